//! The command line, exactly as documented in the README (a test keeps the two in step).

use super::candidates as complete;
use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::ArgValueCandidates;

/// How many deployments `list` shows without `--limit` or `--all`: the history may hold years.
pub const LIST_DEFAULT: usize = 50;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "flipdeck",
    version,
    about = "Zero-downtime, symlink-based deployments of web sites over SSH",
    after_help = "SITE is a domain, or SERVER/DOMAIN when the domain is on several servers.\n\
                  Exit codes: 0 success; 1 the operation failed or was refused; 2 usage or config error."
)]
pub struct Cli {
    /// Config file [default: $XDG_CONFIG_HOME/flipdeck/config.toml]
    #[arg(long, global = true, env = "FLIPDECK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// History database [default: $XDG_DATA_HOME/flipdeck/history.db]
    #[arg(long, global = true, env = "FLIPDECK_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Keep the colours (SGR sequences) of script output; every other control character is
    /// still shown as a visible escape
    #[arg(long, global = true)]
    pub script_colors: bool,
    /// Only the servers of this stage (`stage = "NAME"` in the config)
    #[arg(long, global = true, value_name = "NAME", add = ArgValueCandidates::new(complete::stages))]
    pub stage: Option<String>,
    /// Draw the dashboard with ASCII borders and symbols (the default when the locale is not
    /// UTF-8)
    #[arg(long, global = true)]
    pub ascii: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the site's layout and its initial deployment
    Provision {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// Print the job as JSON events, one object per line (human output goes to stderr)
        #[arg(long)]
        json: bool,
    },
    /// Deploy the site: build a new release, switch to it, prune old ones
    Deploy {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// Deploy this branch instead of the configured one
        #[arg(long, value_name = "B")]
        branch: Option<String>,
        /// Deploy this tag or commit (or other ref) instead of the branch's newest commit
        #[arg(long = "ref", value_name = "TAG_OR_SHA")]
        git_ref: Option<String>,
        /// With source = "artifact": send this tar (or .tar.gz) that CI built, instead of building
        #[arg(long, value_name = "FILE")]
        artifact: Option<PathBuf>,
        /// The commit the --artifact was built from, recorded in the history
        #[arg(long, value_name = "SHA", requires = "artifact")]
        commit: Option<String>,
        /// Watch the site for SECS seconds after the switch, holding it (Ctrl-C reverts); without
        /// SECS the site's watch_s, or 60 [exit code 3 when the watch reverted]
        #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true)]
        watch: Option<Option<u32>>,
        /// Print the job as JSON events, one object per line (human output goes to stderr)
        #[arg(long)]
        json: bool,
        /// Do not ask before deploying a protected site (required without a terminal)
        #[arg(long)]
        yes: bool,
        // ---- a fleet's stepped rollout (over the site's `rollout`) ----
        /// A stepped rollout: how many servers switch first (the canary; 0: none)
        #[arg(long, value_name = "N")]
        canary: Option<usize>,
        /// A step after the canary: servers switched by its end, a share ("50%") or a count;
        /// repeat or separate with commas; the last reaches every server ("100%")
        #[arg(long = "batch", value_name = "P%|N", value_delimiter = ',')]
        batch: Vec<String>,
        /// The wait before each step after the first: "manual" (Enter, a or x on a terminal) or
        /// a duration ("30s", "2m"); repeat for one per wait
        #[arg(long = "pause", value_name = "manual|DURATION")]
        pause: Vec<String>,
        /// Print what the deploy would do on each server (what goes out, the releases the prune
        /// would delete, the hooks in order, the lock) and change nothing; with --json, one
        /// object per server
        #[arg(long)]
        dry_run: bool,
    },
    /// Switch the site back to an earlier release
    Rollback {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// Deployment ID or release name to roll back to [default: the newest eligible one older
        /// than the active; for a fleet, the newest release every server has]
        #[arg(long, value_name = "ID|RELEASE")]
        to: Option<String>,
        /// Print the job as JSON events, one object per line (human output goes to stderr)
        #[arg(long)]
        json: bool,
        /// Do not ask before rolling back a protected site (required without a terminal)
        #[arg(long)]
        yes: bool,
    },
    /// What goes out: commits, files, migrations, lock files and env keys between the live
    /// release and a target (changes nothing)
    Diff {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// Compare with this deployment (a rollback target) instead of the branch's tip
        #[arg(long, value_name = "ID", conflicts_with = "git_ref")]
        to: Option<i64>,
        /// Compare with this branch, tag or commit instead of the configured branch
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// Print one JSON object per server
        #[arg(long)]
        json: bool,
    },
    /// Delete old releases (keeps the newest N successful ones and the active one)
    Prune(PruneArgs),
    /// The site's deployments, newest first (the newest 50 unless told otherwise)
    List {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// Print JSON (the spec's Deployment fields)
        #[arg(long)]
        json: bool,
        /// Show the newest N deployments [default: 50]
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
        /// Show every deployment
        #[arg(long, conflicts_with = "limit")]
        all: bool,
        /// Show the site's command runs (`flipdeck run`) instead of its deployments
        #[arg(long)]
        commands: bool,
    },
    /// Every site: server, domain, active deployment, commit, deployed at (read from the servers)
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// The stored output of a deployment, or of a command run (cID)
    Log {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Run one of the site's named commands in its live release, on every server of the site
    /// (without NAME: list them)
    Run {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// The command's name, from the site's [servers.sites.commands]
        #[arg(add = ArgValueCandidates::new(complete::commands))]
        name: Option<String>,
        /// Only on this server
        #[arg(long, value_name = "SERVER", add = ArgValueCandidates::new(complete::servers))]
        server: Option<String>,
        /// Print the job as JSON events, one object per line (human output goes to stderr)
        #[arg(long)]
        json: bool,
        /// Do not ask before running on a protected site (required without a terminal)
        #[arg(long)]
        yes: bool,
    },
    /// Open an interactive shell in the site's live release
    Ssh {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// The server, when the site is on several
        #[arg(long, value_name = "SERVER", add = ArgValueCandidates::new(complete::servers))]
        server: Option<String>,
    },
    /// Open the dashboard on a sandbox with sample sites (what `flipdeck` does without a config)
    Demo {
        /// Build the sandbox here (a new or empty directory) instead of a temp directory
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Keep the sandbox on exit and print its config path
        #[arg(long)]
        keep: bool,
    },
    /// Write a commented example config at the config path (never overwrites)
    Init,
    /// Show an SSH server's host key fingerprint and add it to known_hosts
    Trust {
        #[arg(add = ArgValueCandidates::new(complete::servers))]
        server: String,
        /// Do not ask (for scripts)
        #[arg(long)]
        yes: bool,
    },
    /// Make a deploy key for a site on its server, pin its git host's key there, print the public key
    Keygen {
        site: String,
        /// Pin the git host's key without asking; needs --git-host-key
        #[arg(long)]
        yes: bool,
        /// The git host's key fingerprint (SHA256:...) you checked with the git host
        #[arg(long, value_name = "FINGERPRINT")]
        git_host_key: Option<String>,
    },
    /// Remove a stale deploy lock, saying who held it and since when
    Unlock {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// Also remove a lock whose holder is a running process on this machine
        #[arg(long)]
        force: bool,
        /// Print the job as JSON events, one object per line (human output goes to stderr)
        #[arg(long)]
        json: bool,
    },
    /// The site's shared .env: show (values redacted), edit, set, unset, history, restore
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Check that each server has what flipdeck relies on (one exec per server)
    Doctor {
        /// Only this server [default: every configured server]
        #[arg(add = ArgValueCandidates::new(complete::servers))]
        server: Option<String>,
        /// Print the checks as JSON, one object per line
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (site and server names complete from the config)
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Write the man page flipdeck.1
    Man {
        /// Write it into this directory [default: the current directory]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `flipdeck env …`: SITE is a domain (every server of it) or SERVER/DOMAIN.
#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Print the shared .env with every value redacted (on each server of the site)
    Show {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// Print the values too
        #[arg(long)]
        reveal: bool,
    },
    /// Edit the .env in $EDITOR (a private copy), see what changes, confirm, write it on every server
    Edit {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        /// Do not ask before writing (required without a terminal)
        #[arg(long)]
        yes: bool,
        /// When the servers' files differ: start from this server's, and write it to every server
        #[arg(long, value_name = "SERVER")]
        from: Option<String>,
    },
    /// Set keys, KEY=VALUE each, keeping every other line (quoted for Laravel's parser)
    Set {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
        /// Print the jobs as JSON events, one object per line (human output goes to stderr)
        #[arg(long)]
        json: bool,
    },
    /// Remove keys, keeping every other line
    Unset {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// Print the jobs as JSON events, one object per line (human output goes to stderr)
        #[arg(long)]
        json: bool,
    },
    /// The versions kept on each server: when each was replaced, by whom, which keys changed
    History {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
    },
    /// Put saved version N back (the current .env is saved first)
    Restore {
        #[arg(add = ArgValueCandidates::new(complete::sites))]
        site: String,
        #[arg(value_name = "N")]
        version: u32,
        /// Do not ask before writing (required without a terminal)
        #[arg(long)]
        yes: bool,
        /// Print the jobs as JSON events, one object per line (human output goes to stderr)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct PruneTarget {
    /// Only this site
    #[arg(long, value_name = "SITE", add = ArgValueCandidates::new(complete::sites))]
    pub site: Option<String>,
    /// Only the site of this history ID
    #[arg(long, value_name = "ID")]
    pub site_id: Option<i64>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// How many successful releases to keep [default: the site's `keep`]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,
    /// Show what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print the job as JSON events, one object per line (human output goes to stderr)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: PruneTarget,
}

impl EnvCommand {
    pub fn site(&self) -> &String {
        match self {
            EnvCommand::Show { site, .. }
            | EnvCommand::Edit { site, .. }
            | EnvCommand::Set { site, .. }
            | EnvCommand::Unset { site, .. }
            | EnvCommand::History { site }
            | EnvCommand::Restore { site, .. } => site,
        }
    }
}

/// The shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}
