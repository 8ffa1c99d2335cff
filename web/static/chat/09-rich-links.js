// chat.js, part 9: rich links: a card for a message's first link.

// Only where the user's rich_links preference is on. relay24 fetches the
// page (GET /api/v1/link-preview) and proxies its picture, so the browser
// never asks the third party; a card loads when it scrolls into view and
// each link is asked once per page. Without a card the link stays plain.
var linkPreviews = {}; // url → Promise of the preview, or null
var observedCards = [];
var cardObserver = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
  entries.forEach(function (en) {
    if (en.isIntersecting) { cardObserver.unobserve(en.target); fillLinkCard(en.target); }
  });
}, { rootMargin: "200px" }) : null;

function firstLink(text) {
  URL_RE.lastIndex = 0;
  var m = URL_RE.exec(text), href = m && safeURL(m[0]);
  URL_RE.lastIndex = 0;
  return href || null;
}

function linkCard(href) {
  // Empty until its preview comes (an element that is not displayed is
  // never seen by the observer).
  var card = el("div", { class: "link-card", "data-url": href });
  if (linkPreviews[href] || !cardObserver) fillLinkCard(card); // known: no flicker on a re-render
  else {
    // Cards a re-render replaced before they were seen are let go.
    observedCards = observedCards.filter(function (c) { return c.isConnected || cardObserver.unobserve(c); });
    observedCards.push(card);
    cardObserver.observe(card);
  }
  return card;
}

function fillLinkCard(card) {
  var href = card.getAttribute("data-url");
  askPreview(href, false).then(function (p) {
    // Its picture's signed link near expiry (a page open for hours): the
    // preview is asked again, which signs it anew.
    if (p && p.image && linkExpiring(p.image)) return askPreview(href, true);
    return p;
  }).then(function (p) {
    if (!p || (!p.title && !p.description && !p.image)) return;
    // A picture that fails to load (its link expired while it waited to be
    // scrolled to) asks once for the preview again; then it goes.
    var imgError = function () {
      var img = this;
      if (img.getAttribute("data-retried")) { img.remove(); return; }
      img.setAttribute("data-retried", "1");
      askPreview(href, true).then(function (q) {
        if (q && q.image && q.image !== img.getAttribute("src")) img.src = q.image;
        else img.remove();
      });
    };
    var a = !p.title && !p.description ?
      // A link to a picture (or a page with nothing but one) shows the
      // picture, through relay24's proxy like a card's.
      el("a", { class: "msg-att msg-att-image rich", href: href, target: "_blank", rel: "noopener noreferrer" },
        el("img", { loading: "lazy", referrerpolicy: "no-referrer", src: p.image, alt: "", onerror: imgError })) :
      el("a", { class: "link-card-body", href: href, target: "_blank", rel: "noopener noreferrer" },
      p.image ? el("img", { class: "link-card-image", loading: "lazy", referrerpolicy: "no-referrer", src: p.image, alt: "",
        onerror: imgError }) : null,
      el("span", { class: "link-card-text" },
        el("span", { class: "link-card-site", text: p.site_name || p.domain }),
        p.title ? el("span", { class: "link-card-title", text: p.title }) : null,
        p.description ? el("span", { class: "link-card-desc", text: p.description }) : null));
    // A card that grows the last message keeps a list read to its end there.
    var box = ui.messages, atEnd = box && box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    card.appendChild(a);
    if (atEnd) box.scrollTop = box.scrollHeight;
  });
}

// askPreview asks relay24 for a link's preview once per page (again when
// renew: its picture's link expired), answering the promise.
function askPreview(href, renew) {
  if (!linkPreviews[href] || renew) {
    linkPreviews[href] = api("GET", "/api/v1/link-preview?url=" + encodeURIComponent(href)).then(function (r) {
      return (r && r.preview) || null;
    }, function (e) {
      if (e.status === 429 || e.status === 0) delete linkPreviews[href]; // may be had later
      return null;
    });
  }
  return linkPreviews[href];
}
