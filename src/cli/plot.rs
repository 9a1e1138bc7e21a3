//! `sfnn plot DIR... --out FILE.svg`: fitness curves of finished (or running) `sfnn run` folders
//! as one SVG, for reports and READMEs. Runs are grouped (explicitly with `--group NAME=DIR,DIR`,
//! or by their spec without the seed); each group is drawn as the mean over its runs with a
//! min–max band, in two panels: best-so-far and population-mean fitness per generation.
//!
//! The SVG is written by hand rather than with a plotting crate: the picture is two panels of
//! lines and bands with fixed-layout text, a few hundred lines here, where `plotters` would add
//! three crates and their build time to every build of a machine that is short of CPU.

use super::runs::RunFolder;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// Run folders (written by `sfnn run`); runs whose specs differ only in the seed form one
    /// group, named after the spec's `name`.
    dirs: Vec<PathBuf>,
    /// A named group of run folders, `NAME=DIR,DIR,...` (repeatable), drawn before the
    /// positional folders' groups.
    #[arg(long = "group", value_name = "NAME=DIR,DIR")]
    groups: Vec<String>,
    /// The SVG file to write.
    #[arg(long, default_value = "fitness.svg")]
    out: PathBuf,
    /// Title above the panels (default: the group names).
    #[arg(long)]
    title: Option<String>,
}

pub fn plot(args: PlotArgs) -> Result<()> {
    let mut groups = Vec::new();
    for text in &args.groups {
        let (name, dirs) = text
            .split_once('=')
            .ok_or_else(|| anyhow!("--group {text:?}: expected NAME=DIR,DIR,..."))?;
        let runs = dirs
            .split(',')
            .filter(|d| !d.is_empty())
            .map(|d| read_run(Path::new(d)))
            .collect::<Result<Vec<_>>>()?;
        if runs.is_empty() {
            bail!("--group {name:?} names no run folder");
        }
        groups.push(Group::new(name.to_string(), &runs)?);
    }
    groups.extend(groups_by_spec(&args.dirs)?);
    if groups.is_empty() {
        bail!("nothing to plot: give run folders or --group NAME=DIR,DIR");
    }
    let title = args.title.unwrap_or_else(|| {
        groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(" vs ")
    });
    let svg = render(&title, &FITNESS_PANELS, &groups);
    std::fs::write(&args.out, svg).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} groups, {} runs)",
        args.out.display(),
        groups.len(),
        groups.iter().map(|g| g.runs).sum::<usize>()
    );
    Ok(())
}

/// One run folder: its spec (as JSON, for grouping) and its per-generation curves.
struct Run {
    spec: Option<serde_json::Value>,
    best_so_far: Vec<f64>,
    mean: Vec<f64>,
}

fn read_run(dir: &Path) -> Result<Run> {
    let folder = RunFolder::read(dir, false)?;
    if folder.history.is_empty() {
        bail!("{}: no generation recorded yet", dir.display());
    }
    Ok(Run {
        spec: folder.spec,
        best_so_far: folder.history.iter().map(|r| r.best_so_far).collect(),
        mean: folder.history.iter().map(|r| r.fitness.mean).collect(),
    })
}

/// Groups positional folders by their spec without `seed` (and without the run's own name, so a
/// spec renamed per seed still groups), in the order the first member was given.
fn groups_by_spec(dirs: &[PathBuf]) -> Result<Vec<Group>> {
    let mut order: Vec<String> = Vec::new();
    let mut members: BTreeMap<String, (String, Vec<Run>)> = BTreeMap::new();
    for dir in dirs {
        let run = read_run(dir)?;
        let mut key = run.spec.clone().unwrap_or(serde_json::Value::Null);
        let name = key
            .get("name")
            .and_then(|n| n.as_str())
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| dir.display().to_string());
        if let Some(object) = key.as_object_mut() {
            object.remove("seed");
        } else {
            // Without a spec, a folder is its own group.
            key = serde_json::Value::String(dir.display().to_string());
        }
        let key = key.to_string();
        if !members.contains_key(&key) {
            order.push(key.clone());
        }
        members
            .entry(key)
            .or_insert_with(|| (name, Vec::new()))
            .1
            .push(run);
    }
    order
        .into_iter()
        .map(|key| {
            let (name, runs) = members.remove(&key).expect("every key has members");
            Group::new(name, &runs)
        })
        .collect()
}

/// One curve's summary over a group's runs, per generation.
pub(super) struct Band {
    mean: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl Band {
    /// Over the generations every run reached (runs of different lengths are cut to the
    /// shortest, so the mean never silently changes its members).
    pub(super) fn over(curves: &[&[f64]]) -> Band {
        let len = curves.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut band = Band {
            mean: Vec::with_capacity(len),
            min: Vec::with_capacity(len),
            max: Vec::with_capacity(len),
        };
        for g in 0..len {
            let values = curves.iter().map(|c| c[g]).filter(|v| v.is_finite());
            let (mut sum, mut count, mut min, mut max) =
                (0.0, 0usize, f64::INFINITY, f64::NEG_INFINITY);
            for v in values {
                sum += v;
                count += 1;
                min = min.min(v);
                max = max.max(v);
            }
            let mean = if count == 0 {
                f64::NAN
            } else {
                sum / count as f64
            };
            band.mean.push(mean);
            band.min.push(if count == 0 { f64::NAN } else { min });
            band.max.push(if count == 0 { f64::NAN } else { max });
        }
        band
    }
}

/// A group's curves: one band per panel, in the panels' order.
pub(super) struct Group {
    pub(super) name: String,
    pub(super) runs: usize,
    pub(super) bands: Vec<Band>,
}

impl Group {
    fn new(name: String, runs: &[Run]) -> Result<Group> {
        let best: Vec<&[f64]> = runs.iter().map(|r| r.best_so_far.as_slice()).collect();
        let mean: Vec<&[f64]> = runs.iter().map(|r| r.mean.as_slice()).collect();
        Ok(Group {
            name,
            runs: runs.len(),
            bands: vec![Band::over(&best), Band::over(&mean)],
        })
    }
}

/// A panel of the figure: its title and its y axis's label.
#[derive(Debug, Clone, Copy)]
pub(super) struct Panel<'a> {
    pub(super) title: &'a str,
    pub(super) y_label: &'a str,
    /// Whether the y axis includes 0 whatever the curves reach.
    pub(super) from_zero: bool,
}

/// `sfnn plot`'s two panels.
const FITNESS_PANELS: [Panel; 2] = [
    Panel {
        title: "best fitness so far",
        y_label: "fitness",
        from_zero: true,
    },
    Panel {
        title: "population mean fitness",
        y_label: "fitness",
        from_zero: true,
    },
];

// ---- SVG ---------------------------------------------------------------------------------------

const WIDTH: f64 = 760.0;
const PANEL_HEIGHT: f64 = 250.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 46.0;
const GAP: f64 = 56.0;
/// Points per drawn curve at most: enough for a smooth curve, small enough that a figure of
/// several groups stays a few tens of KB.
const MAX_POINTS: usize = 100;
/// Colour-blind-safe (Okabe–Ito), in group order.
const COLOURS: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

/// Draws one panel per entry of `panels`, stacked, each group's band `i` in panel `i`.
pub(super) fn render(title: &str, panels: &[Panel], groups: &[Group]) -> String {
    let height = TOP + panels.len() as f64 * (PANEL_HEIGHT + GAP) - GAP + 40.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        escape(title)
    );
    for (i, spec) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL_HEIGHT + GAP);
        panel(&mut svg, top, spec, groups, i);
    }
    // One legend, right of the top panel: colour, group name, run count.
    for (i, group) in groups.iter().enumerate() {
        let y = TOP + 14.0 + i as f64 * 30.0;
        let x = WIDTH - RIGHT + 16.0;
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" y1="{}" x2="{}" y2="{}" stroke="{colour}" stroke-width="3"/>"#,
            y - 4.0,
            x + 20.0,
            y - 4.0
        );
        let _ = writeln!(
            svg,
            r#"<text class="legend" x="{}" y="{y}">{}</text>"#,
            x + 26.0,
            escape(&group.name)
        );
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" font-size="10" fill="#555">{} run{}: mean, min–max</text>"##,
            x + 26.0,
            y + 11.0,
            group.runs,
            if group.runs == 1 { "" } else { "s" }
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn panel(svg: &mut String, top: f64, spec: &Panel, groups: &[Group], index: usize) {
    fn band_at(g: &Group, index: usize) -> &Band {
        &g.bands[index]
    }
    let band_of = |g| band_at(g, index);
    let label = spec.title;
    let (left, right, bottom) = (LEFT, WIDTH - RIGHT, top + PANEL_HEIGHT);
    let generations = groups
        .iter()
        .map(|g| band_of(g).mean.len())
        .max()
        .unwrap_or(1)
        .max(2);
    // Fitness panels start at 0; a panel of returns spans what its curves reach.
    let start = if spec.from_zero { 0.0 } else { f64::NAN };
    let y_max = groups
        .iter()
        .flat_map(|g| band_of(g).max.iter().copied())
        .filter(|v| v.is_finite())
        .fold(start, f64::max);
    let y_min = groups
        .iter()
        .flat_map(|g| band_of(g).min.iter().copied())
        .filter(|v| v.is_finite())
        .fold(start, f64::min);
    let (y_min, y_max) = if y_min.is_finite() {
        (y_min, y_max)
    } else {
        (0.0, 1.0)
    };
    let (y_ticks, y_lo, y_hi) = nice_ticks(y_min, if y_max > y_min { y_max } else { y_min + 1.0 });
    let x_last = (generations - 1) as f64;
    let (x_ticks, _, x_hi) = nice_ticks(0.0, x_last);
    let x_of = |g: f64| left + (right - left) * g / x_hi;
    let y_of = |v: f64| bottom - (bottom - top) * (v - y_lo) / (y_hi - y_lo);

    // Frame, grid and ticks.
    let _ = writeln!(
        svg,
        r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="#888"/>"##,
        right - left,
        PANEL_HEIGHT
    );
    for &v in &y_ticks {
        let y = round(y_of(v));
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            left - 6.0,
            y + 4.0,
            tick_label(v)
        );
    }
    for &g in &x_ticks {
        let x = round(x_of(g));
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" y1="{bottom}" x2="{x}" y2="{}" stroke="#888"/><text x="{x}" y="{}" text-anchor="middle">{}</text>"##,
            bottom + 5.0,
            bottom + 18.0,
            tick_label(g)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">generation</text>"#,
        (left + right) / 2.0,
        bottom + 34.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>"#,
        left - 46.0,
        (top + bottom) / 2.0,
        left - 46.0,
        (top + bottom) / 2.0,
        escape(spec.y_label)
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-weight="bold">{}</text>"#,
        left + 8.0,
        top + 16.0,
        escape(label)
    );

    // Bands first, then lines, so no band hides another group's line.
    for (i, group) in groups.iter().enumerate() {
        let band = band_of(group);
        let colour = COLOURS[i % COLOURS.len()];
        let points = sample(band.mean.len());
        let upper: Vec<(f64, f64)> = points
            .iter()
            .filter(|&&g| band.max[g].is_finite())
            .map(|&g| (x_of(g as f64), y_of(band.max[g])))
            .collect();
        let lower: Vec<(f64, f64)> = points
            .iter()
            .rev()
            .filter(|&&g| band.min[g].is_finite())
            .map(|&g| (x_of(g as f64), y_of(band.min[g])))
            .collect();
        if !upper.is_empty() {
            let _ = writeln!(
                svg,
                r#"<path class="band" d="{}Z" fill="{colour}" fill-opacity="0.18" stroke="none"/>"#,
                path_data(upper.iter().chain(lower.iter()))
            );
        }
    }
    for (i, group) in groups.iter().enumerate() {
        let band = band_of(group);
        let colour = COLOURS[i % COLOURS.len()];
        let line: Vec<(f64, f64)> = sample(band.mean.len())
            .into_iter()
            .filter(|&g| band.mean[g].is_finite())
            .map(|g| (x_of(g as f64), y_of(band.mean[g])))
            .collect();
        let _ = writeln!(
            svg,
            r#"<path class="line" data-group="{}" d="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            escape(&group.name),
            path_data(line.iter())
        );
    }
}

/// Generation indices to draw: all of them up to [`MAX_POINTS`], else an even stride that keeps
/// the first and the last.
fn sample(len: usize) -> Vec<usize> {
    if len <= MAX_POINTS {
        return (0..len).collect();
    }
    let step = (len - 1) as f64 / (MAX_POINTS - 1) as f64;
    let mut points: Vec<usize> = (0..MAX_POINTS)
        .map(|k| (k as f64 * step).round() as usize)
        .collect();
    points.dedup();
    points
}

fn path_data<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> String {
    let mut d = String::new();
    for (k, (x, y)) in points.enumerate() {
        let _ = write!(
            d,
            "{}{},{}",
            if k == 0 { "M" } else { "L" },
            round(*x),
            round(*y)
        );
    }
    d
}

/// One decimal of a pixel: invisible, and a third of the bytes of full precision.
fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// About five round tick values covering `[lo, hi]`, and the covered range.
fn nice_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64, f64) {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| span / s <= 5.0)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() * step;
    let last = (hi / step).ceil() * step;
    let count = ((last - first) / step).round() as usize;
    let ticks = (0..=count).map(|k| first + k as f64 * step).collect();
    (ticks, first, last)
}

fn tick_label(v: f64) -> String {
    let text = format!("{:.3}", v);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_generations_every_run_reached() {
        let band = Band::over(&[&[0.1, 0.3, 0.5], &[0.3, 0.5]]);
        assert_eq!(band.mean, vec![0.2, 0.4]);
        assert_eq!(band.min, vec![0.1, 0.3]);
        assert_eq!(band.max, vec![0.3, 0.5]);
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (ticks, lo, hi) = nice_ticks(0.0, 0.43);
        assert_eq!(lo, 0.0);
        assert!((0.43..=0.5 + 1e-12).contains(&hi), "{hi}");
        assert!(ticks.len() >= 3 && ticks.len() <= 7, "{ticks:?}");
        assert_eq!(sample(1000).len(), MAX_POINTS);
        assert_eq!(*sample(1000).last().unwrap(), 999);
    }
}
