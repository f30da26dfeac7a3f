/* Rule editor: drag-and-drop reordering (SortableJS, persisted through htmx) and a guard against leaving a
   rule form with unsaved changes. Everything also works without it: arrows reorder, forms submit. */
(function () {
  "use strict";
  var dirty = false;

  function bindSortable(root) {
    var list = (root || document).querySelector("#rule-list ol[data-reorder-url]");
    if (!list || list.dataset.sortableBound || typeof Sortable === "undefined") return;
    list.dataset.sortableBound = "1";
    Sortable.create(list, {
      handle: ".drag-handle",
      animation: 120,
      forceFallback: true,  // pointer events: the same on touch screens, mice and automated browsers
      onEnd: function () {
        var ids = Array.prototype.map.call(list.querySelectorAll("li[data-rule-id]"), function (li) {
          return li.dataset.ruleId;
        });
        htmx.ajax("POST", list.dataset.reorderUrl, {
          target: "#rule-list", swap: "outerHTML", values: { order: ids.join(",") }
        });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bindSortable(document); });
  document.addEventListener("htmx:afterSettle", function () { bindSortable(document); });

  // Unsaved changes: any edit inside a guarded form marks the page dirty until it is submitted.
  document.addEventListener("input", function (e) {
    if (e.target.closest && e.target.closest("form[data-guard]")) dirty = true;
  });
  document.addEventListener("change", function (e) {
    if (e.target.closest && e.target.closest("form[data-guard]")) dirty = true;
  });
  document.addEventListener("submit", function (e) {
    if (e.target.matches && e.target.matches("form[data-guard]")) dirty = false;
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("form[data-guard]");
    if (form && e.detail.requestConfig && e.detail.requestConfig.verb === "post" &&
        e.detail.elt.dataset.save === "1") dirty = false;
  });
  window.addEventListener("beforeunload", function (e) {
    if (!dirty) return undefined;
    e.preventDefault();
    e.returnValue = "You have unsaved changes to this rule.";
    return e.returnValue;
  });
  window.domEditor = { isDirty: function () { return dirty; }, clean: function () { dirty = false; } };
})();
