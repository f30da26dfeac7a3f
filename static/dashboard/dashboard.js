/* Draws each KPI card's trend (Chart.js, served from static/vendor) from the page's JSON; redrawn after
   htmx swaps the dashboard body when the period changes. */
(function () {
  const charts = [];
  function draw() {
    const data = document.getElementById("kpi-chart-data");
    if (!data || typeof Chart === "undefined") return;
    const chart = JSON.parse(data.textContent);
    while (charts.length) charts.pop().destroy();
    document.querySelectorAll("canvas.trend").forEach(function (canvas) {
      const code = canvas.dataset.kpi;
      const target = chart.targets[code];
      const datasets = [{ label: "value", data: chart.series[code], borderColor: "#1f5fd1", spanGaps: true,
                          pointRadius: 2, tension: 0.2 }];
      if (target !== null && target !== undefined) {
        datasets.push({ label: "target", data: chart.labels.map(function () { return target; }),
                        borderColor: "#9a6700", borderDash: [4, 3], pointRadius: 0 });
      }
      charts.push(new Chart(canvas, {
        type: "line",
        data: { labels: chart.labels, datasets: datasets },
        options: { animation: false, responsive: true, plugins: { legend: { display: false } },
                   scales: { x: { display: false } } },
      }));
      canvas.dataset.drawn = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
