// The historical chart: uPlot (vendored; made for large time series), times shown in the
// chosen zone, zoom by dragging. window.sodataChart tells how long the last drawing took.
import { html, useEffect, useRef } from "./ui.js";

const COLOURS = ["#0b5cad", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#1098ad", "#c2255c", "#5c940d"];

/** `aligned`: [times in s, values of series 1, ...] as uPlot takes them; `labels`: one per
 * series; `onZoom(fromMs, toMs)` when the user selects a range by dragging. */
export function Chart({ aligned, labels, zone, onZoom, receivedAt }) {
  const box = useRef();
  const plot = useRef();
  useEffect(() => {
    const width = () => Math.max(320, box.current.clientWidth);
    const options = {
      width: width(),
      height: 380,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), zone),
      cursor: { drag: { x: true, y: false, setScale: false } },
      series: [
        { label: "Date" },
        ...labels.map((label, i) => ({
          label,
          stroke: COLOURS[i % COLOURS.length],
          width: 1.5,
          spanGaps: false,
          points: { show: aligned[0].length < 300 },
        })),
      ],
      axes: [{}, { size: 70 }],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const from = u.posToVal(u.select.left, "x");
            const to = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
            onZoom(Math.floor(from * 1e3), Math.ceil(to * 1e3));
          },
        ],
      },
    };
    const started = performance.now();
    plot.current = new uPlot(options, aligned, box.current);
    // drawn once the browser has painted the next frame
    requestAnimationFrame(() => {
      const drawn = performance.now();
      window.sodataChart = {
        points: aligned.slice(1).reduce((n, ys) => n + ys.filter((y) => y !== null && y !== undefined).length, 0),
        series: labels.length,
        buildMs: Math.round(drawn - started),
        answerToDrawnMs: receivedAt ? Math.round(drawn - receivedAt) : null,
      };
      window.sodataPlot = plot.current;
      box.current?.dispatchEvent(new CustomEvent("sodata:drawn", { bubbles: true }));
    });
    const resize = () => plot.current.setSize({ width: width(), height: 380 });
    addEventListener("resize", resize);
    return () => {
      removeEventListener("resize", resize);
      plot.current.destroy();
    };
  }, [aligned, labels.join("\n"), zone]);
  return html`<div class="chart" ref=${box} data-testid="chart"></div>`;
}
