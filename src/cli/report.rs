//! `sfnn report`: a study's report from its run folders, drawn by the tool so that it can be
//! redrawn from what is committed. Groups of runs (e.g. the reference against an ablation, over
//! seeds) give: their specs' differences, curves per environment in raw returns (mean over runs,
//! min–max band), the final evaluation on fresh wirings (mean ± std, share of lifetimes that
//! reach each environment's solved threshold), the meta-tests (other structures, untrained
//! environments) against baselines, and the compute each run took. Markdown with SVG figures,
//! or one self-contained HTML file; either can also replace a marked section of another file.
//!
//! Evaluations are read from each folder's `evaluations/*.json` (`sfnn eval --json`): the file
//! `final.json` is the final evaluation; every other file is a meta-test, named by its stem.

use super::plot::{self, Band, Panel};
use super::runs::RunFolder;
use crate::envs;
use crate::evolution::compute::JobCompute;
use crate::evolution::evaluation::{EnvEvaluation, EvaluationResult};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The file stem of a run's final evaluation.
pub const FINAL: &str = "final";

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A group of run folders, `NAME=DIR,DIR,...` (repeatable), in the report's order.
    #[arg(long = "group", value_name = "NAME=DIR,DIR", required = true)]
    groups: Vec<String>,
    /// A baseline: folders that hold only evaluations (of random genomes, say),
    /// `NAME=DIR,DIR,...` (repeatable); shown beside the groups in the evaluation tables.
    #[arg(long = "baseline", value_name = "NAME=DIR,DIR")]
    baselines: Vec<String>,
    /// Folder to write `report.md` and its figures into (or `report.html` with `--html`).
    #[arg(long)]
    out: PathBuf,
    /// The report's title.
    #[arg(long, default_value = "Report")]
    title: String,
    /// One self-contained HTML file (figures inline) instead of Markdown with SVG files.
    #[arg(long)]
    html: bool,
    /// Also write the Markdown report into FILE, replacing what stands between the lines
    /// `<!-- sfnn report NAME -->` and `<!-- end sfnn report NAME -->` (figure paths made
    /// relative to FILE's folder).
    #[arg(long, value_name = "FILE", requires = "section")]
    into: Option<PathBuf>,
    /// The marked section's NAME for `--into`.
    #[arg(long, value_name = "NAME")]
    section: Option<String>,
    /// Text placed under the title (a paragraph of Markdown).
    #[arg(long)]
    intro: Option<String>,
}

pub fn report(args: ReportArgs) -> Result<()> {
    let groups = args
        .groups
        .iter()
        .map(|g| Group::read(g, false))
        .collect::<Result<Vec<_>>>()?;
    let baselines = args
        .baselines
        .iter()
        .map(|g| Group::read(g, true))
        .collect::<Result<Vec<_>>>()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let document = build(&args.title, args.intro.as_deref(), &groups, &baselines);
    if args.html {
        let path = args.out.join("report.html");
        std::fs::write(&path, document.html())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    } else {
        for (name, svg) in document.figures() {
            let path = args.out.join(name);
            std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
        }
        let path = args.out.join("report.md");
        std::fs::write(&path, document.markdown(Path::new("")))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {} and its figures", path.display());
    }
    if let (Some(file), Some(section)) = (&args.into, &args.section) {
        let base = file.parent().unwrap_or(Path::new("."));
        let prefix = relative(base, &args.out);
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let updated = replace_section(&text, section, &document.markdown(&prefix))
            .with_context(|| format!("{}", file.display()))?;
        std::fs::write(file, updated).with_context(|| format!("writing {}", file.display()))?;
        eprintln!("updated the section {section:?} of {}", file.display());
    }
    Ok(())
}

/// A named set of run folders (the runs of one setting over seeds).
struct Group {
    name: String,
    runs: Vec<RunFolder>,
}

impl Group {
    fn read(text: &str, baseline: bool) -> Result<Group> {
        let (name, dirs) = text
            .split_once('=')
            .ok_or_else(|| anyhow!("{text:?}: expected NAME=DIR,DIR,..."))?;
        let runs = dirs
            .split(',')
            .filter(|d| !d.is_empty())
            .map(|d| RunFolder::read(Path::new(d), baseline))
            .collect::<Result<Vec<_>>>()?;
        if runs.is_empty() {
            bail!("{name:?} names no folder");
        }
        Ok(Group {
            name: name.to_string(),
            runs,
        })
    }

    /// The environments its runs were trained on, in the spec's order.
    fn envs(&self) -> Vec<String> {
        self.runs
            .first()
            .and_then(|r| r.history.first())
            .map(|r| r.envs.iter().map(|e| e.env.clone()).collect())
            .unwrap_or_default()
    }

    /// Every lifetime of the evaluation `stem` on `env`, over the group's runs.
    fn lifetimes(&self, stem: &str, env: &str) -> Vec<f64> {
        self.runs
            .iter()
            .filter_map(|r| evaluation(r, stem))
            .filter_map(|e| e.envs.iter().find(|x| x.env == env))
            .flat_map(|e| e.lifetimes.iter().map(|l| l.weighted_return))
            .collect()
    }
}

fn evaluation<'a>(run: &'a RunFolder, stem: &str) -> Option<&'a EvaluationResult> {
    run.evaluations
        .iter()
        .find(|(s, _)| s == stem)
        .map(|(_, e)| e)
}

// ---- The document -------------------------------------------------------------------------

/// A report as blocks, so one text renders as Markdown or HTML.
struct Document {
    blocks: Vec<Block>,
}

enum Block {
    Heading(usize, String),
    /// Markdown-light text: `code` and **bold** only.
    Paragraph(String),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Figure {
        file: String,
        svg: String,
        caption: String,
    },
}

fn build(title: &str, intro: Option<&str>, groups: &[Group], baselines: &[Group]) -> Document {
    let mut blocks = vec![Block::Heading(2, title.to_string())];
    if let Some(intro) = intro {
        blocks.push(Block::Paragraph(intro.to_string()));
    }
    blocks.extend(setup(groups));
    blocks.extend(curves(groups));
    blocks.extend(final_evaluation(groups, baselines));
    blocks.extend(meta_tests(groups, baselines));
    blocks.extend(compute(groups));
    Document { blocks }
}

/// What the groups share, and how their specs differ (name, tags and seed aside).
fn setup(groups: &[Group]) -> Vec<Block> {
    let flat: Vec<BTreeMap<String, String>> = groups
        .iter()
        .map(|g| {
            let mut fields = BTreeMap::new();
            if let Some(spec) = g.runs.first().and_then(|r| r.spec.as_ref()) {
                flatten("", spec, &mut fields);
            }
            for own in ["name", "tags", "seed"] {
                fields.remove(own);
            }
            fields
        })
        .collect();
    let keys: BTreeSet<&String> = flat.iter().flat_map(|f| f.keys()).collect();
    let missing = "—".to_string();
    let (mut shared, mut differing) = (Vec::new(), Vec::new());
    for key in keys {
        let values: Vec<&String> = flat
            .iter()
            .map(|f| f.get(key).unwrap_or(&missing))
            .collect();
        if values.iter().all(|v| *v == values[0]) {
            // Options left unset say nothing the reader needs.
            if values[0] != "null" {
                shared.push(format!("`{key}` = `{}`", values[0]));
            }
        } else {
            let mut row = vec![format!("`{key}`")];
            row.extend(values.iter().map(|v| format!("`{v}`")));
            differing.push(row);
        }
    }
    let mut blocks = vec![Block::Heading(3, "Setup".into())];
    let seeds: Vec<String> = groups
        .iter()
        .map(|g| {
            let seeds: Vec<String> = g
                .runs
                .iter()
                .map(|r| {
                    r.spec
                        .as_ref()
                        .and_then(|s| s.get("seed"))
                        .map_or("?".into(), |s| s.to_string())
                })
                .collect();
            let plural = if g.runs.len() == 1 { "" } else { "s" };
            format!(
                "**{}**: {} run{plural} (seed{plural} {})",
                g.name,
                g.runs.len(),
                seeds.join(", ")
            )
        })
        .collect();
    blocks.push(Block::Paragraph(seeds.join("; ") + "."));
    if !differing.is_empty() {
        let mut header = vec!["spec field".to_string()];
        header.extend(groups.iter().map(|g| g.name.clone()));
        blocks.push(Block::Paragraph("How the groups' specs differ:".into()));
        blocks.push(Block::Table {
            header,
            rows: differing,
        });
    }
    if !shared.is_empty() {
        blocks.push(Block::Paragraph(format!(
            "Shared by every group: {}.",
            shared.join(", ")
        )));
    }
    blocks
}

/// Writes `value`'s leaves into `out` by dotted path.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Population-mean fitness and each environment's population-mean weighted return (raw, as the
/// environment scores it) per generation: mean over a group's runs, min–max band.
fn curves(groups: &[Group]) -> Vec<Block> {
    let envs: Vec<String> = {
        let mut seen = Vec::new();
        for env in groups.iter().flat_map(|g| g.envs()) {
            if !seen.contains(&env) {
                seen.push(env);
            }
        }
        seen
    };
    let titles: Vec<String> = std::iter::once("population mean fitness".to_string())
        .chain(
            envs.iter()
                .map(|e| format!("{e}: population mean weighted return")),
        )
        .collect();
    let mut panels: Vec<Panel> = vec![Panel {
        title: &titles[0],
        y_label: "fitness",
        from_zero: true,
    }];
    panels.extend(titles[1..].iter().map(|t| Panel {
        title: t,
        y_label: "return",
        from_zero: false,
    }));
    let drawn: Vec<plot::Group> = groups
        .iter()
        .map(|g| {
            let fitness: Vec<Vec<f64>> = g
                .runs
                .iter()
                .map(|r| r.history.iter().map(|h| h.fitness.mean).collect())
                .collect();
            let mut bands = vec![Band::over(&slices(&fitness))];
            for env in &envs {
                let returns: Vec<Vec<f64>> = g
                    .runs
                    .iter()
                    .map(|r| {
                        r.history
                            .iter()
                            .map(|h| {
                                h.envs
                                    .iter()
                                    .find(|e| &e.env == env)
                                    .map_or(f64::NAN, |e| e.mean_return)
                            })
                            .collect()
                    })
                    .collect();
                bands.push(Band::over(&slices(&returns)));
            }
            plot::Group {
                name: g.name.clone(),
                runs: g.runs.len(),
                bands,
            }
        })
        .collect();
    let title = groups
        .iter()
        .map(|g| g.name.as_str())
        .collect::<Vec<_>>()
        .join(" vs ");
    vec![
        Block::Heading(3, "Curves".into()),
        Block::Figure {
            file: "curves.svg".into(),
            svg: plot::render(&title, &panels, &drawn),
            caption: "Per generation: the population's mean fitness, and per environment the \
                      population's mean weighted return Σ w_k R_k in the environment's own units; \
                      each line is the mean over the group's runs, the band their min–max."
                .into(),
        },
    ]
}

fn slices(curves: &[Vec<f64>]) -> Vec<&[f64]> {
    curves.iter().map(Vec::as_slice).collect()
}

/// Mean ± std of `values`, with the share at or above `solved`.
fn summary(values: &[f64], solved: Option<f64>) -> String {
    if values.is_empty() {
        return "—".into();
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    match solved {
        Some(threshold) => {
            let hits = values.iter().filter(|&&v| v >= threshold).count();
            format!(
                "{mean:.1} ± {std:.1} · {hits}/{} ({:.0}%)",
                values.len(),
                100.0 * hits as f64 / n
            )
        }
        None => format!("{mean:.1} ± {std:.1} (n={})", values.len()),
    }
}

fn solved_at(env: &str) -> Option<f64> {
    envs::info(env).and_then(|i| i.solved_at)
}

fn threshold_note(envs: &[String]) -> String {
    let parts: Vec<String> = envs
        .iter()
        .map(|e| match solved_at(e) {
            Some(t) => format!("{e} ≥ {t}"),
            None => format!("{e}: none"),
        })
        .collect();
    parts.join(", ")
}

/// Each run's final mean genome on fresh wirings, per environment, and each group pooled.
fn final_evaluation(groups: &[Group], baselines: &[Group]) -> Vec<Block> {
    let envs: Vec<String> = {
        let mut seen: Vec<String> = Vec::new();
        for g in groups.iter().chain(baselines) {
            for run in &g.runs {
                for e in evaluation(run, FINAL).map_or(&[][..], |e| &e.envs[..]) {
                    if !seen.contains(&e.env) {
                        seen.push(e.env.clone());
                    }
                }
            }
        }
        seen
    };
    if envs.is_empty() {
        return Vec::new();
    }
    let mut header = vec!["group".to_string(), "run".to_string()];
    header.extend(envs.iter().cloned());
    let mut rows = Vec::new();
    for g in groups.iter().chain(baselines) {
        for run in &g.runs {
            let Some(result) = evaluation(run, FINAL) else {
                continue;
            };
            let mut row = vec![g.name.clone(), run_label(run)];
            for env in &envs {
                let values: Vec<f64> = result
                    .envs
                    .iter()
                    .find(|e| &e.env == env)
                    .map(lifetime_returns)
                    .unwrap_or_default();
                row.push(summary(&values, solved_at(env)));
            }
            rows.push(row);
        }
        let mut pooled = vec![format!("**{}**", g.name), "**all**".into()];
        for env in &envs {
            pooled.push(format!(
                "**{}**",
                summary(&g.lifetimes(FINAL, env), solved_at(env))
            ));
        }
        rows.push(pooled);
    }
    let lifetimes = groups
        .iter()
        .flat_map(|g| &g.runs)
        .filter_map(|r| evaluation(r, FINAL))
        .filter_map(|e| e.envs.first())
        .map(|e| e.lifetimes.len())
        .max()
        .unwrap_or(0);
    vec![
        Block::Heading(3, "Final evaluation".into()),
        Block::Paragraph(format!(
            "Each run's final strategy-mean genome on {lifetimes} fresh wirings per environment \
             (seeds never used in training): the weighted return Σ w_k R_k of each lifetime, \
             mean ± std over lifetimes, then the lifetimes that reach the solved threshold \
             ({}); **all** pools a group's runs.",
            threshold_note(&envs)
        )),
        Block::Table { header, rows },
    ]
}

fn lifetime_returns(e: &EnvEvaluation) -> Vec<f64> {
    e.lifetimes.iter().map(|l| l.weighted_return).collect()
}

fn run_label(run: &RunFolder) -> String {
    run.dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| run.dir.display().to_string())
}

/// Every evaluation other than the final one, per environment, groups and baselines side by side.
fn meta_tests(groups: &[Group], baselines: &[Group]) -> Vec<Block> {
    let all: Vec<&Group> = groups.iter().chain(baselines).collect();
    let mut stems: Vec<String> = Vec::new();
    for g in &all {
        for run in &g.runs {
            for (stem, _) in &run.evaluations {
                if stem != FINAL && !stems.contains(stem) {
                    stems.push(stem.clone());
                }
            }
        }
    }
    if stems.is_empty() {
        return Vec::new();
    }
    let mut header = vec![
        "meta-test".to_string(),
        "variant".into(),
        "environment".into(),
    ];
    header.extend(all.iter().map(|g| g.name.clone()));
    let mut rows = Vec::new();
    for stem in &stems {
        let example = all
            .iter()
            .flat_map(|g| &g.runs)
            .find_map(|r| evaluation(r, stem))
            .expect("a stem comes from some run");
        for env in example.envs.iter().map(|e| e.env.clone()) {
            let mut row = vec![format!("`{stem}`"), describe_variant(example), env.clone()];
            for g in &all {
                row.push(summary(&g.lifetimes(stem, &env), solved_at(&env)));
            }
            rows.push(row);
        }
    }
    vec![
        Block::Heading(3, "Meta-test".into()),
        Block::Paragraph(
            "The same genomes on structures and tasks they were never trained on: mean ± std of \
             the weighted return over every lifetime of the group's runs, and the share that \
             reaches the solved threshold where the environment has one."
                .into(),
        ),
        Block::Table { header, rows },
    ]
}

fn describe_variant(result: &EvaluationResult) -> String {
    let v = &result.variant;
    let mut parts = vec![format!("N = {}", result.nodes)];
    if let Some(seed) = v.permute_inputs {
        parts.push(format!("inputs permuted (seed {seed})"));
    }
    if v.extra_inputs > 0 {
        parts.push(match v.extra_input_value {
            Some(x) => format!("{} extra inputs = {x}", v.extra_inputs),
            None => format!("{} extra inputs of noise", v.extra_inputs),
        });
    }
    parts.join(", ")
}

/// What each run cost, and each group in all.
fn compute(groups: &[Group]) -> Vec<Block> {
    let header = [
        "group",
        "run",
        "generations",
        "CPU s",
        "wall s",
        "SFNN steps",
        "executor",
        "machine",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    let mut machines = BTreeSet::new();
    for g in groups {
        let mut total = JobCompute::default();
        let mut generations = 0;
        for run in &g.runs {
            // The records are the account; compute.json adds the machine.
            let totals = JobCompute {
                machine: run.compute.as_ref().and_then(|c| c.totals.machine.clone()),
                ..JobCompute::of_records(&run.history)
            };
            let executor = run
                .compute
                .as_ref()
                .map_or("—".into(), |c| format!("{} ({})", c.executor, c.device));
            if let Some(m) = &totals.machine {
                machines.insert(m.clone());
            }
            rows.push(compute_row(
                &g.name,
                &run_label(run),
                run.history.len(),
                &totals,
                &executor,
            ));
            generations += run.history.len();
            total.add(&totals);
        }
        rows.push(
            compute_row(&g.name, "all", generations, &total, "")
                .into_iter()
                .map(|c| if c.is_empty() { c } else { format!("**{c}**") })
                .collect(),
        );
    }
    vec![
        Block::Heading(3, "Compute".into()),
        Block::Paragraph(
            "CPU seconds are every thread's own clock over the recorded generations (so a run \
             resumed after a stop adds up its parts, and a generation redone after a crash \
             counts once); wall seconds are the generations' ask + evaluate + tell; one SFNN \
             step is one environment step of one network."
                .into(),
        ),
        Block::Table { header, rows },
    ]
}

fn compute_row(
    group: &str,
    run: &str,
    generations: usize,
    c: &JobCompute,
    executor: &str,
) -> Vec<String> {
    vec![
        group.to_string(),
        run.to_string(),
        generations.to_string(),
        // Records from before CPU time was measured hold 0: say so rather than print 0 s.
        if c.cpu_seconds > 0.0 {
            format!("{:.0}", c.cpu_seconds)
        } else {
            "not measured".into()
        },
        format!("{:.0}", c.wall_seconds),
        format!("{:.3} G", c.sfnn_steps as f64 / 1e9),
        executor.to_string(),
        c.machine.clone().unwrap_or_else(|| "—".into()),
    ]
}

// ---- Rendering ------------------------------------------------------------------------------

impl Document {
    fn figures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Figure { file, svg, .. } => Some((file.as_str(), svg.as_str())),
            _ => None,
        })
    }

    /// Markdown, with figures linked at `prefix/file`.
    fn markdown(&self, prefix: &Path) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            match block {
                Block::Heading(level, text) => {
                    let _ = writeln!(out, "{} {text}\n", "#".repeat(*level));
                }
                Block::Paragraph(text) => {
                    let _ = writeln!(out, "{text}\n");
                }
                Block::Table { header, rows } => {
                    let cell = |c: &String| c.replace('|', "\\|");
                    let _ = writeln!(
                        out,
                        "| {} |",
                        header.iter().map(cell).collect::<Vec<_>>().join(" | ")
                    );
                    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
                    for row in rows {
                        let _ = writeln!(
                            out,
                            "| {} |",
                            row.iter().map(cell).collect::<Vec<_>>().join(" | ")
                        );
                    }
                    out.push('\n');
                }
                Block::Figure { file, caption, .. } => {
                    let path = prefix.join(file);
                    let _ = writeln!(out, "![{file}]({})\n", path.display());
                    let _ = writeln!(out, "{caption}\n");
                }
            }
        }
        out
    }

    /// One HTML file, figures inline.
    fn html(&self) -> String {
        let title = self
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Heading(_, t) => Some(t.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let mut out = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
             <style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}\
             table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;\
             padding:.3em .6em;text-align:left}}figure{{margin:1em 0}}</style></head><body>\n",
            escape(&title)
        );
        for block in &self.blocks {
            match block {
                Block::Heading(level, text) => {
                    let _ = writeln!(out, "<h{level}>{}</h{level}>", inline(text));
                }
                Block::Paragraph(text) => {
                    let _ = writeln!(out, "<p>{}</p>", inline(text));
                }
                Block::Table { header, rows } => {
                    out.push_str("<table><thead><tr>");
                    for h in header {
                        let _ = write!(out, "<th>{}</th>", inline(h));
                    }
                    out.push_str("</tr></thead><tbody>\n");
                    for row in rows {
                        out.push_str("<tr>");
                        for c in row {
                            let _ = write!(out, "<td>{}</td>", inline(c));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</tbody></table>\n");
                }
                Block::Figure { svg, caption, .. } => {
                    let _ = writeln!(
                        out,
                        "<figure>{svg}<figcaption>{}</figcaption></figure>",
                        inline(caption)
                    );
                }
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Markdown-light of paragraphs and cells (`code`, **bold**) as HTML.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let escaped = escape(text);
    let mut code = false;
    for (i, part) in escaped.split('`').enumerate() {
        if i > 0 {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
        }
        if code {
            out.push_str(part);
        } else {
            let mut bold = false;
            for (j, piece) in part.split("**").enumerate() {
                if j > 0 {
                    out.push_str(if bold { "</strong>" } else { "<strong>" });
                    bold = !bold;
                }
                out.push_str(piece);
            }
        }
    }
    out
}

/// `text` with the lines between the section's markers replaced by `content`.
fn replace_section(text: &str, section: &str, content: &str) -> Result<String> {
    let start = format!("<!-- sfnn report {section} -->");
    let end = format!("<!-- end sfnn report {section} -->");
    let (Some(a), Some(b)) = (text.find(&start), text.find(&end)) else {
        bail!("no section: add the lines `{start}` and `{end}` where the report goes");
    };
    if b < a {
        bail!("`{end}` comes before `{start}`");
    }
    Ok(format!(
        "{}{start}\n\n{}\n{}",
        &text[..a],
        content.trim_end(),
        &text[b..]
    ))
}

/// `to` relative to `from` where `to` lies under it, else `to` as given.
fn relative(from: &Path, to: &Path) -> PathBuf {
    to.strip_prefix(from)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| to.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_between_their_markers_only() {
        let text = "a\n<!-- sfnn report x -->\nold\n<!-- end sfnn report x -->\nb\n";
        let new = replace_section(text, "x", "new\n").unwrap();
        assert_eq!(
            new,
            "a\n<!-- sfnn report x -->\n\nnew\n<!-- end sfnn report x -->\nb\n"
        );
        assert!(replace_section(text, "y", "z").is_err());
    }

    #[test]
    fn summaries_count_the_solved_share() {
        assert_eq!(
            summary(&[500.0, 480.0, 100.0, 475.0], Some(475.0)),
            "388.8 ± 192.8 · 3/4 (75%)"
        );
        assert_eq!(summary(&[-1.0], None), "-1.0 ± 0.0 (n=1)");
        assert_eq!(summary(&[], Some(1.0)), "—");
    }

    #[test]
    fn inline_markup_becomes_html() {
        assert_eq!(
            inline("**a** `b<c>` d"),
            "<strong>a</strong> <code>b&lt;c&gt;</code> d"
        );
    }
}
