//! Plots of the results (plotters; PNG and SVG): displayed fps by resolution, and latency
//! percentiles by resolution, one series per sender → receiver pair; with `--clients`, the
//! server capacity ramp.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;

use crate::report::Row;

/// Fonts tried for PNG text (Debian's fonts-dejavu-core).
const FONTS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Registers a system font for plotters' text; an error saying what to install when none is.
fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let found = *DONE.get_or_init(|| {
        for path in FONTS {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    });
    if found {
        Ok(())
    } else {
        Err(anyhow!(
            "no TrueType font found (apt-get install -y fonts-dejavu-core); plots skipped"
        ))
    }
}

/// The label of the plain loopback sender's rate in the capacity plot.
const PLAIN: &str = "plain sendto loop";

/// A series: label → (x index, y) points.
type Series = BTreeMap<String, Vec<(usize, f64)>>;

/// Writes `fps.{png,svg}` and `latency.{png,svg}` into `dir`; returns the files written.
pub fn write(dir: &Path, rows: &[Row]) -> Result<Vec<String>> {
    register_font()?;
    let mut resolutions: Vec<String> = Vec::new();
    for r in rows {
        if !resolutions.contains(&r.resolution) {
            resolutions.push(r.resolution.clone());
        }
    }
    let x = |r: &Row| {
        resolutions
            .iter()
            .position(|n| *n == r.resolution)
            .unwrap_or(0)
    };
    let mut fps: Series = BTreeMap::new();
    let mut target: Vec<(usize, f64)> = Vec::new();
    let mut latency: Series = BTreeMap::new();
    for r in rows {
        let label = format!("{} ← {} ({})", r.receiver, r.sender, r.transport.name());
        fps.entry(label.clone())
            .or_default()
            .push((x(r), r.fps_displayed));
        if !target.iter().any(|&(i, _)| i == x(r)) {
            target.push((x(r), r.target_fps));
        }
        if let (Some(p50), Some(p99)) = (r.latency_ms_p50, r.latency_ms_p99) {
            latency
                .entry(format!("p50 {label}"))
                .or_default()
                .push((x(r), p50));
            latency
                .entry(format!("p99 {label}"))
                .or_default()
                .push((x(r), p99));
        }
    }
    fps.insert("target".into(), target);
    let mut written = Vec::new();
    let fps_layout = Layout {
        title: "Displayed fps by resolution",
        x_label: "",
        y_label: "frames per second",
        legend: SeriesLabelPosition::LowerLeft,
    };
    written.extend(png_and_svg(dir, "fps", &fps_layout, &resolutions, &fps)?);
    if !latency.is_empty() {
        let layout = Layout {
            title: "Arrival-to-display latency by resolution",
            x_label: "",
            y_label: "milliseconds",
            legend: SeriesLabelPosition::LowerLeft,
        };
        written.extend(png_and_svg(
            dir,
            "latency",
            &layout,
            &resolutions,
            &latency,
        )?);
    }
    written.extend(loss(dir, rows)?);
    Ok(written)
}

/// With rows under `--impair`: `loss.{png,svg}`, the share of frames shown under each
/// impairment, a line per receiver ← sender (and resolution, when there are several).
fn loss(dir: &Path, rows: &[Row]) -> Result<Vec<String>> {
    let mut links: Vec<String> = Vec::new();
    let mut resolutions: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| !r.impair.is_empty()) {
        if !links.contains(&r.impair) {
            links.push(r.impair.clone());
        }
        if !resolutions.contains(&r.resolution.as_str()) {
            resolutions.push(&r.resolution);
        }
    }
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let mut shown: Series = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.impair.is_empty()) {
        let mut label = format!("{} ← {}", r.receiver, r.sender);
        if resolutions.len() > 1 {
            label = format!("{} {label}", r.resolution);
        }
        let x = links.iter().position(|l| *l == r.impair).unwrap_or(0);
        let pct = 100.0 * r.frames_displayed as f64 / r.frames_expected.max(1) as f64;
        shown.entry(label).or_default().push((x, pct));
    }
    let layout = Layout {
        title: "Frames shown through a lossy link",
        x_label: "impairment (seeded relay)",
        y_label: "% of frames shown",
        legend: SeriesLabelPosition::LowerLeft,
    };
    png_and_svg(dir, "loss", &layout, &links, &shown)
}

/// Draws `series` into `<dir>/<name>.png` and `.svg`; returns the two paths.
fn png_and_svg(
    dir: &Path,
    name: &str,
    layout: &Layout<'_>,
    xs: &[String],
    series: &Series,
) -> Result<Vec<String>> {
    ["png", "svg"]
        .iter()
        .map(|ext| {
            let path = dir.join(format!("{name}.{ext}"));
            chart(&path, layout, xs, series)?;
            Ok(path.display().to_string())
        })
        .collect()
}

/// One sender's capacity ramp at one resolution.
#[derive(Debug, Clone)]
pub struct Ramp {
    /// The sender and resolution, as the legend says them.
    pub label: String,
    /// (concurrent receivers, packets per second they received) at each step.
    pub steps: Vec<(usize, f64)>,
}

/// Writes `capacity.{png,svg}` into `dir`: packets per second delivered against concurrent
/// receivers, a line per sender, beside what every receiver getting every packet would take
/// (the first ramp's one-receiver rate times the receivers) and the plain loopback sender's
/// rate. Returns the files written.
pub fn capacity(dir: &Path, ramps: &[Ramp], plain: f64) -> Result<Vec<String>> {
    register_font()?;
    let mut counts: Vec<usize> = ramps
        .iter()
        .flat_map(|r| r.steps.iter().map(|&(n, _)| n))
        .collect();
    counts.sort_unstable();
    counts.dedup();
    let x = |n: usize| counts.iter().position(|&c| c == n).unwrap_or(0);
    let mut series: Series = BTreeMap::new();
    for ramp in ramps {
        let mut points: Vec<(usize, f64)> = ramp.steps.iter().map(|&(n, r)| (x(n), r)).collect();
        points.sort_by_key(|p| p.0);
        series.insert(ramp.label.clone(), points);
    }
    if let Some(one) = ramps
        .first()
        .and_then(|r| r.steps.iter().find(|s| s.0 == 1))
        .map(|s| s.1)
    {
        series.insert(
            "every packet to every receiver".into(),
            counts.iter().map(|&n| (x(n), one * n as f64)).collect(),
        );
    }
    series.insert(
        format!("{PLAIN} ({plain:.0} datagrams/s)"),
        counts.iter().map(|&n| (x(n), plain)).collect(),
    );
    let xs: Vec<String> = counts.iter().map(ToString::to_string).collect();
    let layout = Layout {
        title: "Server capacity: RTP packets per second delivered",
        x_label: "concurrent receivers",
        y_label: "packets per second received",
        legend: SeriesLabelPosition::UpperLeft,
    };
    png_and_svg(dir, "capacity", &layout, &xs, &series)
}

/// Where a chart's legend goes and what its axes say.
struct Layout<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    legend: SeriesLabelPosition,
}

fn chart(path: &Path, layout: &Layout<'_>, xs: &[String], series: &Series) -> Result<()> {
    let size = (1100, 650);
    if path.extension().is_some_and(|e| e == "svg") {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw(root, layout, xs, series)
    } else {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        draw(root, layout, xs, series)
    }
    .with_context(|| format!("cannot draw {}", path.display()))
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    layout: &Layout<'_>,
    xs: &[String],
    series: &Series,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
    root.fill(&WHITE).map_err(err)?;
    let y_max = series
        .values()
        .flatten()
        .map(|p| p.1)
        .fold(1.0f64, f64::max)
        * 1.15;
    let n = xs.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(layout.title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() < 0.01 && i >= 0.0 {
                xs.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| {
            if v.abs() >= 10_000.0 {
                format!("{:.0}k", v / 1000.0)
            } else {
                format!("{v:.0}")
            }
        })
        .x_desc(layout.x_label)
        .y_desc(layout.y_label)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    for (i, (label, points)) in series.iter().enumerate() {
        // A reference line (the target fps, the plain sender's rate) is thin and grey.
        let reference = label == "target" || label.starts_with(PLAIN);
        let colour = if reference {
            BLACK.mix(0.5)
        } else {
            Palette99::pick(i).mix(1.0)
        };
        let pts: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x as f64, y)).collect();
        let style = if reference {
            colour.stroke_width(1)
        } else {
            colour.stroke_width(3)
        };
        chart
            .draw_series(LineSeries::new(pts.clone(), style))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(layout.legend.clone())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
