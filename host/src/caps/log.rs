//! Messages from the host and from plugins to the investigator. While a progress bar is on screen,
//! lines are printed above it; warnings and errors are also kept for the run summary.

use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Default)]
pub struct Logger {
    /// The progress bar to print above, when one is shown.
    pub bar: Option<indicatif::ProgressBar>,
    pub verbose: bool,
    /// Warnings and errors, for the summary.
    kept: Mutex<Vec<String>>,
}

impl Logger {
    pub fn new(bar: Option<indicatif::ProgressBar>, verbose: bool) -> Logger {
        Logger {
            bar,
            verbose,
            kept: Mutex::new(Vec::new()),
        }
    }

    fn print(&self, line: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(line),
            _ => eprintln!("{line}"),
        }
    }

    /// A message from the host.
    pub fn host(&self, level: Level, message: &str) {
        self.emit(level, &format!("{}: {message}", label(level)));
    }

    /// A message from a plugin, prefixed with its stage.
    pub fn plugin(&self, level: Level, stage: &str, message: &str) {
        // A plugin cannot flood the terminal with one enormous line.
        let message: String = message.chars().take(2000).collect();
        self.emit(level, &format!("{}: [{stage}] {message}", label(level)));
    }

    fn emit(&self, level: Level, line: &str) {
        if level >= Level::Warn {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            if kept.len() < 1000 {
                kept.push(line.to_string());
            }
        }
        if level >= Level::Info || self.verbose {
            self.print(line);
        }
    }

    /// The warnings and errors logged so far.
    pub fn kept(&self) -> Vec<String> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn label(level: Level) -> &'static str {
    match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warning",
        Level::Error => "error",
    }
}
