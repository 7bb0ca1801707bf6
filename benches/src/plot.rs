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
        ..Layout::BASE
    };
    written.extend(png_and_svg(dir, "fps", &fps_layout, &resolutions, &fps)?);
    if !latency.is_empty() {
        let layout = Layout {
            title: "Arrival-to-display latency by resolution",
            x_label: "",
            y_label: "milliseconds",
            legend: SeriesLabelPosition::LowerLeft,
            ..Layout::BASE
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
        ..Layout::BASE
    };
    png_and_svg(dir, "loss", &layout, &links, &shown)
}

/// The live benchmark's plots ([`crate::live`]), from the runs our client decoded in:
/// `live-latency.{png,svg}`, capture-to-display p50 and p99 by resolution, a line per viewer
/// count; `live-frames.{png,svg}`, the worst viewer's frames (of those published in its
/// window) by viewer count, a line per resolution. Returns the files written.
pub fn live(dir: &Path, rows: &[crate::live::LiveRow]) -> Result<Vec<String>> {
    register_font()?;
    let ours: Vec<&crate::live::LiveRow> = rows
        .iter()
        .filter(|r| r.decoder == crate::live::Decoder::Ours.name())
        .collect();
    let mut transports: Vec<&str> = Vec::new();
    let mut resolutions: Vec<String> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for r in &ours {
        if !transports.contains(&r.transport.as_str()) {
            transports.push(&r.transport);
        }
        if !resolutions.contains(&r.resolution) {
            resolutions.push(r.resolution.clone());
        }
        if !counts.contains(&r.viewers) {
            counts.push(r.viewers);
        }
    }
    counts.sort_unstable();
    let tx = |r: &crate::live::LiveRow| {
        if transports.len() > 1 {
            format!(" ({})", r.transport)
        } else {
            String::new()
        }
    };
    // Counts padded to one width, so that the legend's (alphabetical) order is theirs.
    let width = counts.last().map_or(1, |n| n.to_string().len());
    let viewers = |n: usize| {
        if n == 1 {
            format!("{n:>width$} viewer")
        } else {
            format!("{n:>width$} viewers")
        }
    };
    let mut latency: Series = BTreeMap::new();
    let mut frames: Series = BTreeMap::new();
    for r in &ours {
        let x = resolutions
            .iter()
            .position(|n| *n == r.resolution)
            .unwrap_or(0);
        if let (Some(p50), Some(p99)) = (r.capture_to_display_ms_p50, r.capture_to_display_ms_p99) {
            latency
                .entry(format!("{}{}: p50", viewers(r.viewers), tx(r)))
                .or_default()
                .push((x, p50));
            latency
                .entry(format!("{}{}: p99", viewers(r.viewers), tx(r)))
                .or_default()
                .push((x, p99));
        }
        let x = counts.iter().position(|&c| c == r.viewers).unwrap_or(0);
        if let Some(pct) = r.worst_viewer_pct {
            // Padded, so that 720p30 comes before 1080p30 in the legend.
            frames
                .entry(format!("{:>7}{}", r.resolution, tx(r)))
                .or_default()
                .push((x, pct));
        }
    }
    let mut written = Vec::new();
    if !latency.is_empty() {
        let layout = Layout {
            title: "Live: publisher's capture to display (hdstream-client, headless)",
            x_label: "thick: p50, thin: p99",
            y_label: "milliseconds",
            legend: SeriesLabelPosition::UpperLeft,
            paired: true,
            ..Layout::BASE
        };
        written.extend(png_and_svg(
            dir,
            "live-latency",
            &layout,
            &resolutions,
            &latency,
        )?);
    }
    if !frames.is_empty() {
        let xs: Vec<String> = counts.iter().map(|&n| viewers(n)).collect();
        frames.insert("target".into(), (0..xs.len()).map(|i| (i, 100.0)).collect());
        // From a little below the lowest share: a frame or two missing stays visible.
        let lowest = frames.values().flatten().map(|p| p.1).fold(100.0, f64::min);
        let floor = ((lowest - 2.0) / 5.0).floor() * 5.0;
        let layout = Layout {
            title: "Live: the worst viewer's frames, % of those published in its window",
            x_label: "viewers at once (one decoding, the rest receive-only)",
            y_label: "% of frames received whole",
            legend: SeriesLabelPosition::LowerLeft,
            y_range: Some((floor.clamp(0.0, 95.0), 101.0)),
            dodge: true,
            ..Layout::BASE
        };
        written.extend(png_and_svg(dir, "live-frames", &layout, &xs, &frames)?);
    }
    Ok(written)
}

/// Writes `av.{png,svg}` into `dir`: each player's (and transport's) audio/video offset by
/// resolution, p50 thick and the largest either way thin; returns the files written.
pub fn av(dir: &Path, rows: &[crate::av::AvRow]) -> Result<Vec<String>> {
    register_font()?;
    let mut resolutions: Vec<String> = Vec::new();
    for r in rows {
        if !resolutions.contains(&r.resolution) {
            resolutions.push(r.resolution.clone());
        }
    }
    let mut offsets: Series = BTreeMap::new();
    for r in rows {
        let x = resolutions
            .iter()
            .position(|n| *n == r.resolution)
            .unwrap_or(0);
        if let (Some(p50), Some(max)) = (r.offset_p50_ms, r.offset_max_ms) {
            let label = format!("{} ({})", r.player, r.transport);
            offsets
                .entry(format!("{label}: worst"))
                .or_default()
                .push((x, max));
            offsets
                .entry(format!("{label}: p50"))
                .or_default()
                .push((x, p50));
        }
    }
    if offsets.is_empty() {
        return Ok(Vec::new());
    }
    let values = offsets.values().flatten().map(|p| p.1);
    let lo = values.clone().fold(-10.0f64, f64::min);
    let hi = values.fold(10.0f64, f64::max);
    let layout = Layout {
        title: "A/V sync: sound after picture (flash and click; ours: every picture shown)",
        x_label: "thick: p50, thin: the largest either way",
        y_label: "milliseconds (positive: sound later)",
        legend: SeriesLabelPosition::UpperLeft,
        y_range: Some((lo * 1.3 - 2.0, hi * 1.6 + 2.0)),
        paired: true,
        dodge: true,
    };
    png_and_svg(dir, "av", &layout, &resolutions, &offsets)
}

/// Writes `call.{png,svg}` into `dir`: capture to display of each call direction by
/// resolution, p50 thick and p99 thin, beside ITU-T G.114's 150 ms; returns the files written.
pub fn call(dir: &Path, rows: &[crate::call::CallRow]) -> Result<Vec<String>> {
    register_font()?;
    let mut resolutions: Vec<String> = Vec::new();
    for r in rows {
        if !resolutions.contains(&r.resolution) {
            resolutions.push(r.resolution.clone());
        }
    }
    let mut series: Series = BTreeMap::new();
    for r in rows {
        let x = resolutions
            .iter()
            .position(|n| *n == r.resolution)
            .unwrap_or(0);
        if let (Some(p50), Some(p99)) = (r.capture_p50_ms, r.capture_p99_ms) {
            let label = format!("{}, {}", r.direction, r.camera);
            series
                .entry(format!("{label}: p99"))
                .or_default()
                .push((x, p99));
            series
                .entry(format!("{label}: p50"))
                .or_default()
                .push((x, p50));
        }
    }
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let hi = series
        .values()
        .flatten()
        .map(|p| p.1)
        .fold(150.0f64, f64::max);
    let layout = Layout {
        title: "Two-way call: the far side's capture to this screen (G.114: 150 ms)",
        x_label: "thick: p50, thin: p99",
        y_label: "milliseconds",
        legend: SeriesLabelPosition::UpperLeft,
        y_range: Some((0.0, hi * 1.3)),
        paired: true,
        dodge: true,
    };
    png_and_svg(dir, "call", &layout, &resolutions, &series)
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
        ..Layout::BASE
    };
    png_and_svg(dir, "capacity", &layout, &xs, &series)
}

/// Where a chart's legend goes, what its axes say, and how its lines are drawn.
struct Layout<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    legend: SeriesLabelPosition,
    /// The y axis's range (default: 0 to 15 % above the largest value).
    y_range: Option<(f64, f64)>,
    /// Series come in pairs (in label order) that share a colour: the first drawn thick, the
    /// second thin (a p50 and its p99).
    paired: bool,
    /// Each series is moved a little sideways, so that lines on the same values stay visible.
    dodge: bool,
}

impl Layout<'static> {
    /// No title or labels, legend lower left, the default y range, one colour per series.
    const BASE: Layout<'static> = Layout {
        title: "",
        x_label: "",
        y_label: "",
        legend: SeriesLabelPosition::LowerLeft,
        y_range: None,
        paired: false,
        dodge: false,
    };
}

fn chart(path: &Path, layout: &Layout<'_>, xs: &[String], series: &Series) -> Result<()> {
    let size = (1100, 650);
    if path.extension().is_some_and(|e| e == "svg") {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw(root, layout, xs, series)
    } else {
        let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(root, layout, xs, series).and_then(|()| write_png(path, size, &rgb))
    }
    .with_context(|| format!("cannot draw {}", path.display()))
}

/// Writes packed 8-bit RGB pixels as a PNG.
fn write_png(path: &Path, (width, height): (u32, u32), rgb: &[u8]) -> Result<()> {
    let file = std::fs::File::create(path)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(())
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
    let (y_min, y_max) = layout.y_range.unwrap_or((0.0, y_max));
    let n = xs.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(layout.title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y_min..y_max)
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
    let count = series.len();
    for (i, (label, points)) in series.iter().enumerate() {
        // A reference line (the target fps, the plain sender's rate) is thin and grey.
        let reference = label == "target" || label.starts_with(PLAIN);
        let colour = if reference {
            BLACK.mix(0.5)
        } else if layout.paired {
            Palette99::pick(i / 2).mix(1.0)
        } else {
            Palette99::pick(i).mix(1.0)
        };
        let shift = if layout.dodge && !reference {
            (i as f64 - (count as f64 - 1.0) / 2.0) * 0.03
        } else {
            0.0
        };
        let pts: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x as f64 + shift, y)).collect();
        let thin = reference || (layout.paired && i % 2 == 1);
        let style = if thin {
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
