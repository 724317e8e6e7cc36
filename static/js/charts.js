// Draws the Analytics charts from the server's JSON (#chart-data) with the vendored Chart.js.
(function () {
  function draw() {
    var source = document.getElementById("chart-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var brand = "#4f46e5", soft = "#a5b4fc", ok = "#0f9d58";
    var palette = [brand, "#0ea5e9", ok, "#f59e0b", "#ef4444", "#8b5cf6"];
    var days = function (rows) { return rows.map(function (r) { return r.day.slice(5); }); };
    var builders = {
      usage: function () {
        return { type: "line", data: { labels: days(data.credit_usage), datasets: [
          { label: "Spent", data: data.credit_usage.map(function (r) { return Number(r.spent); }), borderColor: brand, backgroundColor: brand, tension: .25 },
          { label: "Added", data: data.credit_usage.map(function (r) { return Number(r.added); }), borderColor: ok, backgroundColor: ok, tension: .25 }] } };
      },
      sources: function () {
        return { type: "doughnut", data: { labels: data.lead_sources.map(function (r) { return r.label; }),
          datasets: [{ data: data.lead_sources.map(function (r) { return r.leads; }), backgroundColor: palette }] } };
      },
      acquisition: function () {
        return { type: "bar", data: { labels: days(data.daily_acquisition),
          datasets: [{ label: "New leads", data: data.daily_acquisition.map(function (r) { return r.leads; }), backgroundColor: brand }] } };
      },
      quality: function () {
        return { type: "bar", data: { labels: data.quality.map(function (r) { return r.bucket; }),
          datasets: [{ label: "Leads", data: data.quality.map(function (r) { return r.leads; }), backgroundColor: soft }] } };
      },
      partner: function () {
        var rows = data.partner.by_day;
        return { type: "bar", data: { labels: days(rows), datasets: [
          { label: "Leads sold", data: rows.map(function (r) { return r.sales; }), backgroundColor: soft, yAxisID: "y" },
          { label: "Credits earned", data: rows.map(function (r) { return Number(r.earned); }), type: "line", borderColor: ok, backgroundColor: ok, yAxisID: "y1" }] },
          options: { scales: { y: { position: "left" }, y1: { position: "right", grid: { drawOnChartArea: false } } } } };
      }
    };
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var config = builders[canvas.dataset.chart]();
      config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" } } }, config.options || {});
      var box = document.createElement("div");
      box.style.position = "relative";
      box.style.height = canvas.getAttribute("height") + "px";
      canvas.parentElement.insertBefore(box, canvas);
      box.appendChild(canvas);
      canvas.chart = new Chart(canvas, config);
      canvas.dataset.drawn = "true";
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
})();
