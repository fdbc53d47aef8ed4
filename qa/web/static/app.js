// Loaded once in the page's <head>. A click on a citation marker opens its source below the
// answer and scrolls to it; the copy and remove buttons call qaCopy / qaConfirmRemove.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("a.cite");
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var id = link.getAttribute("data-target") || (link.getAttribute("href") || "").replace(/^#/, "");
  var box = id && document.getElementById(id);
  if (!box) return;
  box.open = true;
  box.scrollIntoView({behavior: "smooth", block: "center"});
  box.classList.add("qa-flash");
  setTimeout(function () { box.classList.remove("qa-flash"); }, 1600);
}, true);

window.qaCopy = function (text) {
  if (!text) return;
  var fallback = function () {
    var area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).catch(fallback);
  else fallback();
};

// Runs before the remove handler: its return values replace the inputs (doc_id, then the two
// city choices); cancelling sends no doc_id, and the handler removes nothing.
window.qaConfirmRemove = function (doc, cities, factCities) {
  return [doc && confirm("确定要从知识库中删除这份报告吗？") ? doc : null, cities, factCities];
};

// After a click in the 指标对比 table: bring the source panel below it into view.
window.qaShowFactSource = function () {
  var panel = document.getElementById("qa-fact-source");
  if (panel) panel.scrollIntoView({behavior: "smooth", block: "nearest"});
};
