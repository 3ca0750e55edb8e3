//! `hallcall-voice`: the tools of a voice pack (sounds/README.md).
//!
//! - `list`: every clip, its file, what it says and the sentence to say it in;
//! - `cut`: a recorded session into named clips at its silences;
//! - `finish`: clips from elsewhere (a speech service, the shipped maker)
//!   brought to one loudness and checked;
//! - `check`: a pack loads and every clip is usable;
//! - `render`: announcements as a hall would hear them, for listening tests
//!   and the intelligibility benchmark.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hallcall::audio::catalogue::{Entry, entries};
use hallcall::audio::{Clip, Clips, RATE, compose, decode_file, encode_wav, loudness, pack};
use hallcall::config::Lang;

#[derive(Parser)]
#[command(
    name = "hallcall-voice",
    version,
    about = "Make, check and listen to hallcall voice packs"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the clips of a pack: file, text, the sentence to say it in.
    /// Without --all, only those a pack must have.
    List {
        /// Only these clips: a language (zh, en) or a file prefix (zh/n-).
        #[arg(long)]
        only: Option<String>,
        /// Every clip, also those that improve on a fallback.
        #[arg(long)]
        all: bool,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Cut a recorded session (the clips `list` prints with the same
    /// --only/--all, in order, a pause between each) into the pack at OUT.
    Cut {
        session: PathBuf,
        #[arg(long)]
        only: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        out: PathBuf,
        /// The shortest pause between two clips.
        #[arg(long, default_value_t = 350)]
        pause_ms: u32,
    },
    /// Bring the clips under FROM (laid out as a pack) to one loudness,
    /// check them, and write them under OUT.
    Finish {
        from: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Load a pack and check every clip in it.
    Check { sounds: PathBuf },
    /// Write the announcement of each call in CALLS (lines `A023 5`, or
    /// `B001 2 liang` for 两号窗口) as OUT/A023-5.wav (OUT/B001-2-liang.wav),
    /// said once, in the hall's voice.
    Render {
        calls: PathBuf,
        #[arg(long, default_value = "sounds")]
        sounds: PathBuf,
        #[arg(long, default_value = "config/hall.toml")]
        config: PathBuf,
        /// The hall whose voice to use (default: the first).
        #[arg(long)]
        hall: Option<String>,
        /// Only this language of the hall's template (zh, en).
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Args::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hallcall-voice: {e}");
            ExitCode::FAILURE
        }
    }
}

fn select(only: Option<&str>, all: bool) -> Vec<Entry> {
    entries()
        .into_iter()
        .filter(|e| all || e.required)
        .filter(|e| match only {
            None => true,
            Some(p) if p.len() == 2 => e.file.starts_with(&format!("{p}/")),
            Some(p) => e.file.starts_with(p),
        })
        .collect()
}

fn write(out: &Path, file: &str, samples: &[f32]) -> Result<(), String> {
    let path = out.join(file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&path, encode_wav(samples)).map_err(|e| format!("{}: {e}", path.display()))
}

fn refused(bad: &[String]) -> String {
    format!("{} clips refused:\n  {}", bad.len(), bad.join("\n  "))
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::List { only, all, json } => {
            for e in select(only.as_deref(), all) {
                if json {
                    let lang = e
                        .file
                        .split('/')
                        .next()
                        .filter(|l| *l == "zh" || *l == "en")
                        .unwrap_or("");
                    let line = serde_json::json!({
                        "file": e.file, "text": e.text, "context": e.context,
                        "lang": lang, "required": e.required,
                    });
                    println!("{line}");
                } else {
                    println!("{}\t{}\t{}", e.file, e.text, e.context);
                }
            }
            Ok(())
        }
        Command::Cut {
            session,
            only,
            all,
            out,
            pause_ms,
        } => {
            let list = select(only.as_deref(), all);
            let samples = decode_file(&session).map_err(|e| e.to_string())?;
            let clips = pack::cut(&samples, list.len(), pause_ms)?;
            let mut bad = Vec::new();
            for (e, c) in list.iter().zip(&clips) {
                match pack::finish(c) {
                    Ok(f) => write(&out, &e.file, &f.samples)?,
                    Err(p) => bad.push(format!("{} ({}): {p}", e.file, e.text)),
                }
            }
            if !bad.is_empty() {
                return Err(refused(&bad));
            }
            println!("{} clips cut into {}", clips.len(), out.display());
            Ok(())
        }
        Command::Finish { from, out } => {
            let mut bad = Vec::new();
            let mut n = 0;
            for rel in wav_files(&from)? {
                let samples = decode_file(&from.join(&rel)).map_err(|e| e.to_string())?;
                match pack::finish(&samples) {
                    Ok(f) => {
                        write(&out, &rel, &f.samples)?;
                        n += 1;
                    }
                    Err(p) => bad.push(format!("{rel}: {p}")),
                }
            }
            if !bad.is_empty() {
                return Err(refused(&bad));
            }
            println!("{n} clips finished into {}", out.display());
            Ok(())
        }
        Command::Check { sounds } => {
            let clips = Clips::load(&sounds).map_err(|e| e.to_string())?;
            let mut bad = Vec::new();
            let mut n = 0;
            for (clip, samples) in clips.all() {
                n += 1;
                let secs = samples.len() as f32 / RATE as f32;
                match loudness::integrated(samples, RATE) {
                    None => bad.push(format!("{clip:?}: silent")),
                    Some(l) if (l - pack::TARGET_LUFS).abs() > 3.0 && *clip != Clip::Chime => {
                        bad.push(format!("{clip:?}: {l:.1} LUFS, not {} (run finish)", pack::TARGET_LUFS));
                    }
                    Some(_) => {}
                }
                if !(pack::MIN_SECS..=pack::MAX_SECS).contains(&secs) {
                    bad.push(format!("{clip:?}: {secs:.2} s long"));
                }
            }
            if !bad.is_empty() {
                return Err(format!(
                    "{} problems in {}:\n  {}",
                    bad.len(),
                    sounds.display(),
                    bad.join("\n  ")
                ));
            }
            println!("{n} clips in {}: all usable", sounds.display());
            Ok(())
        }
        Command::Render {
            calls,
            sounds,
            config,
            hall,
            lang,
            out,
        } => render(&calls, &sounds, &config, hall.as_deref(), lang.as_deref(), &out),
    }
}

fn render(
    calls: &Path,
    sounds: &Path,
    config: &Path,
    hall: Option<&str>,
    lang: Option<&str>,
    out: &Path,
) -> Result<(), String> {
    let config = hallcall::config::load(config).map_err(|e| e.to_string())?;
    let h = match hall {
        None => config.halls.first(),
        Some(id) => config.halls.iter().find(|h| h.spec.id.to_string() == id),
    }
    .ok_or("no such hall in the configuration")?;
    let mut voice = h.voice.clone();
    voice.repeat = 1;
    if let Some(l) = lang {
        let l = match l {
            "zh" => Lang::Zh,
            "en" => Lang::En,
            _ => return Err(format!("--lang {l:?} must be zh or en")),
        };
        let template = voice
            .languages
            .iter()
            .find(|(x, _)| *x == l)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| match l {
                Lang::Zh => hallcall::config::ZH_TEMPLATE.into(),
                Lang::En => hallcall::config::EN_TEMPLATE.into(),
            });
        voice.languages = vec![(l, template)];
    }
    let clips = Clips::load(sounds).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(calls).map_err(|e| format!("{}: {e}", calls.display()))?;
    let mut n = 0;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut f = line.split_whitespace();
        let (Some(t), Some(w)) = (f.next(), f.next()) else {
            return Err(format!("{line:?}: a call is `TICKET WINDOW`"));
        };
        let ticket = t.parse().map_err(|e| format!("{line:?}: {e}"))?;
        let window: u16 = w.parse().map_err(|_| format!("{line:?}: the window is a number"))?;
        let liang = f.next() == Some("liang");
        let mut v = voice.clone();
        v.window_two_liang = liang;
        let samples = compose(&clips, &v, ticket, window)?;
        let name = if liang {
            format!("{t}-{w}-liang.wav")
        } else {
            format!("{t}-{w}.wav")
        };
        write(out, &name, &samples)?;
        n += 1;
    }
    println!("{n} announcements in {}", out.display());
    Ok(())
}

/// The .wav files under `dir`, as paths relative to it.
fn wav_files(dir: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        for e in std::fs::read_dir(&abs).map_err(|e| format!("{}: {e}", abs.display()))? {
            let e = e.map_err(|e| e.to_string())?;
            let r = rel.join(e.file_name());
            if e.path().is_dir() {
                stack.push(r);
            } else if r.extension().is_some_and(|x| x == "wav") {
                out.push(r.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}
