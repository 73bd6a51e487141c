/**
 * Chart.js, loaded on first use (its own chunk: the other pages never download it), with only
 * the parts the stats chart uses registered (tree-shaken). No inline styles or HTML: Chart.js 4
 * draws on the canvas and sets sizes through the CSSOM, which the console's policy allows.
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export interface Series {
  label: string;
  color: string;
  values: number[];
}

export function drawChart(
  canvas: HTMLCanvasElement,
  labels: string[],
  series: Series[],
): { update(labels: string[], series: Series[]): void; destroy(): void } {
  // Grouped bars: equal counts (sent and delivered, mostly) stand side by side instead of hiding each other.
  const datasets = (list: Series[]) =>
    list.map((s) => ({
      label: s.label,
      data: s.values,
      backgroundColor: s.color,
      borderRadius: 2,
      maxBarThickness: 18,
    }));
  const chart = new Chart(canvas, {
    type: 'bar',
    data: { labels, datasets: datasets(series) },
    options: {
      // Drawn at once: the numbers matter, not the motion (and screenshots see the final chart).
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 } },
        x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  });
  return {
    update(nextLabels, nextSeries) {
      chart.data.labels = nextLabels;
      chart.data.datasets = datasets(nextSeries);
      chart.update();
    },
    destroy: () => chart.destroy(),
  };
}
