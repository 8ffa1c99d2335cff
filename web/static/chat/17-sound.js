// chat.js, part 17: sound.

var audio = null;
function unlockAudio() {
  if (audio) return;
  var AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return;
  try { audio = new AC(); } catch (e) { audio = null; }
}

function beep() {
  if (!audio) return;
  try {
    if (audio.state === "suspended") audio.resume();
    var o = audio.createOscillator(), g = audio.createGain();
    o.type = "sine";
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.0001, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.15, audio.currentTime + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    o.connect(g);
    g.connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.3);
  } catch (e) { /* no sound, no harm */ }
}
