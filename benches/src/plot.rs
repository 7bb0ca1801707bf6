//! Plots of the results (plotters; PNG and SVG): displayed fps by resolution, and latency
//! percentiles by resolution, one series per sender → receiver pair.

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

/// Registers a system font for plotters' text; false when none is installed.
fn register_font() -> bool {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DONE.get_or_init(|| {
        for path in FONTS {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// A series: label → (x index, y) points.
type Series = BTreeMap<String, Vec<(usize, f64)>>;

/// Writes `fps.{png,svg}` and `latency.{png,svg}` into `dir`; returns the files written.
pub fn write(dir: &Path, rows: &[Row]) -> Result<Vec<String>> {
    if !register_font() {
        return Err(anyhow!(
            "no TrueType font found (apt-get install -y fonts-dejavu-core); plots skipped"
        ));
    }
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
    for ext in ["png", "svg"] {
        let path = dir.join(format!("fps.{ext}"));
        chart(
            &path,
            "Displayed fps by resolution",
            "frames per second",
            &resolutions,
            &fps,
        )?;
        written.push(path.display().to_string());
        if !latency.is_empty() {
            let path = dir.join(format!("latency.{ext}"));
            chart(
                &path,
                "Arrival-to-display latency by resolution",
                "milliseconds",
                &resolutions,
                &latency,
            )?;
            written.push(path.display().to_string());
        }
    }
    Ok(written)
}

fn chart(path: &Path, title: &str, y_label: &str, xs: &[String], series: &Series) -> Result<()> {
    let size = (1100, 650);
    if path.extension().is_some_and(|e| e == "svg") {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw(root, title, y_label, xs, series)
    } else {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        draw(root, title, y_label, xs, series)
    }
    .with_context(|| format!("cannot draw {}", path.display()))
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
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
        .caption(title, ("sans-serif", 26))
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
        .y_desc(y_label)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    for (i, (label, points)) in series.iter().enumerate() {
        let colour = if label == "target" {
            BLACK.mix(0.5)
        } else {
            Palette99::pick(i).mix(1.0)
        };
        let pts: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x as f64, y)).collect();
        let style = if label == "target" {
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
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
