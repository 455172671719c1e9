//! Dashboard throughput: 200,000 log lines through the app state, rendered into a 200×50
//! TestBackend at the dashboard's frame rate. Reports lines/s, the slowest frame and memory.
//! Run: `cargo bench --bench dashboard`.

use chrono::Utc;
use flipdeck::engine::{Event, EventKind};
use flipdeck::store::{Deployment, Status};
use flipdeck::transport::Stream;
use flipdeck::ui::app::{App, Loaded, SiteView};
use flipdeck::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let site = SiteView {
        env: None,
        key: "web1/example.com".into(),
        server: "web1".into(),
        domain: "example.com".into(),
        branch: "main".into(),
        transport: "ssh".into(),
        deployments: vec![],
        loaded: true,
        running: None,
        lock: None,
        drift: None,
        table_sel: 0,
        stage: None,
        protected: false,
    };
    let mut app = App::new(vec![site], "/dev/null".into());
    app.on_engine(Event {
        job: 1,
        site: "web1/example.com".into(),
        kind: EventKind::Status {
            deployment_id: 1,
            status: Status::Updating,
        },
    });
    let d = Deployment {
        id: 1,
        site_id: 1,
        status: Status::Updating,
        deployment_script: None,
        release_name: Some("27112026-040000".into()),
        deployment_path: Some("/x".into()),
        log_file_path: None,
        commit_sha: None,
        branch: Some("main".into()),
        error: None,
        started_at: Some(Utc::now()),
        completed_at: None,
        duration_ms: None,
        is_active: false,
        fleet_id: None,
        job: None,
        origin: Default::default(),
    };
    app.on_loaded(Loaded::Deployments {
        site: "web1/example.com".into(),
        list: vec![d],
    });
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let theme = Theme {
        color: true,
        ..Theme::plain()
    };
    let total = 200_000usize;
    let frame = Duration::from_millis(16);
    let mut slowest = Duration::ZERO;
    let mut frames = 0usize;
    let mut render_time = Duration::ZERO;
    let mut last_draw = Instant::now() - frame;
    let rss_start = rss_kib();
    let mut rss_at_cap = 0;
    let started = Instant::now();
    for i in 0..total {
        let line = format!(
            "{i:>7} compiling assets/js/module_{i}.js ... done in {}ms",
            i % 997
        );
        app.on_engine(Event {
            job: 1,
            site: "web1/example.com".into(),
            kind: EventKind::Log {
                stream: Stream::Stdout,
                line,
            },
        });
        if app.dirty && last_draw.elapsed() >= frame {
            let t = Instant::now();
            term.draw(|f| flipdeck::ui::view::draw(f, &app, &theme))
                .unwrap();
            let took = t.elapsed();
            render_time += took;
            slowest = slowest.max(took);
            frames += 1;
            app.dirty = false;
            last_draw = Instant::now();
        }
        if i == 20_000 {
            rss_at_cap = rss_kib();
        }
    }
    // One last frame so every line was shown at least in the final state.
    let t = Instant::now();
    term.draw(|f| flipdeck::ui::view::draw(f, &app, &theme))
        .unwrap();
    slowest = slowest.max(t.elapsed());
    let elapsed = started.elapsed();
    let rss_end = rss_kib();
    println!("dashboard bench (200x50 TestBackend, {total} lines)");
    println!(
        "  ingested:        {:.0} lines/s (target >= 200000)",
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  frames drawn:    {frames} (avg {:.2} ms)",
        render_time.as_secs_f64() * 1000.0 / frames.max(1) as f64
    );
    println!(
        "  slowest frame:   {:.2} ms (target <= 16 ms)",
        slowest.as_secs_f64() * 1000.0
    );
    println!(
        "  memory (RSS):    start {rss_start} KiB, after 20k lines {rss_at_cap} KiB, after {total} {rss_end} KiB"
    );
    println!(
        "  buffer:          {} lines kept (cap {})",
        app.current_log().map_or(0, |b| b.len()),
        app.log_cap
    );
}
