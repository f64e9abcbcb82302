
(function () {
  function key(cell, numeric) {
    if (!cell) return numeric ? 0 : "";
    var v = cell.getAttribute("data-sort");
    if (v === null) v = cell.textContent;
    return numeric ? (parseFloat(v) || 0) : v;
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, index) {
      var button = th.querySelector("button");
      if (!button) return;
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.getAttribute("data-type") === "number";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[index], numeric), y = key(b.cells[index], numeric);
          var c = numeric ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
          return ascending ? c : -c;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  // A secret is in the page only as base64 in its button's data-secret; a click shows that one.
  Array.prototype.forEach.call(document.querySelectorAll("button.reveal"), function (button) {
    button.addEventListener("click", function () {
      var bytes = Uint8Array.from(atob(button.getAttribute("data-secret")), function (c) { return c.charCodeAt(0); });
      var code = document.createElement("code");
      code.className = "secret";
      code.textContent = new TextDecoder().decode(bytes);
      button.replaceWith(code);
    });
  });
  var select = document.getElementById("view-select");
  if (select) {
    var figures = document.querySelectorAll("figure[data-view]");
    var show = function () {
      Array.prototype.forEach.call(figures, function (f) { f.hidden = f.getAttribute("data-view") !== select.value; });
    };
    select.addEventListener("change", show);
    show();
  }
})();
