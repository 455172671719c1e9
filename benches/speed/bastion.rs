//! Bastions at the same cost (issue 21): a rollback through one `jump` host, 50 ms of RTT on each
//! hop (a proxy in front of the bastion's sshd, another between the bastion and the server: the
//! server's address in the config is that proxy's), against the same server reached without the
//! bastion, and the bastion's own connection set-up measured alone.

use crate::flip::{DOMAIN, Flip};
use crate::latency::LatencyProxy;
use crate::sshd::TestSshd;
use crate::stats::median;
use std::path::Path;
use std::time::Duration;

pub const HOP_RTT_MS: u64 = 50;

/// Medians of one run, each rollback on its own site of the same server.
pub struct Results {
    /// Through the bastion: the server's packets cross both 50 ms hops.
    pub through: Duration,
    /// Straight to the server through one 50 ms proxy (the inner hop alone).
    pub direct: Duration,
    /// Straight to the server through both 50 ms proxies chained, no bastion: the same path
    /// RTT (100 ms) as the server's connection through the bastion.
    pub two_links: Duration,
    /// The bastion alone at 50 ms: connection and authentication (no exec).
    pub set_up: Duration,
    /// Round trips (+ each connection's TCP handshake) of one bastion rollback: the outer hop,
    /// the inner hop; and of the direct one.
    pub outer_rt: usize,
    pub inner_rt: usize,
    pub direct_rt: usize,
}

fn known_line(sshd: &TestSshd, port: u16) -> String {
    sshd.known_hosts_line
        .replace(&format!(":{} ", sshd.port), &format!(":{port} "))
}

fn server(name: &str, sshd: &TestSshd, port: u16, known: &Path, root: &Path) -> String {
    format!(
        "[[servers]]\nname = \"{name}\"\nhost = \"{}\"\nport = {port}\nuser = \"{}\"\n\
         identity_file = \"{}\"\nknown_hosts_file = \"{}\"\nroot = \"{}\"\n",
        sshd.address,
        sshd.user,
        sshd.client_key.display(),
        known.display(),
        root.display()
    )
}

/// A site on `target` reached at `port`, through the bastion at `jump` when given.
fn site(
    dir: &Path,
    target: &TestSshd,
    port: u16,
    jump: Option<(&TestSshd, u16)>,
    known: &Path,
    repo: &Path,
) -> Flip {
    let root = dir.join("srv");
    std::fs::create_dir_all(&root).unwrap();
    let mut text = server("bench", target, port, known, &root);
    if jump.is_some() {
        text.push_str("jump = \"bastion\"\n");
    }
    text.push_str(&format!(
        "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\nbranch = \"main\"\nkeep = 14\n\n",
        repo.display()
    ));
    if let Some((b, bport)) = jump {
        text.push_str(&server(
            "bastion",
            b,
            bport,
            known,
            Path::new("/nonexistent"),
        ));
    }
    Flip::from_config(dir, root, &text)
}

/// `n` rollbacks each way, alternating, after two untimed deploys per site.
pub async fn run(w: &Path, repo: &Path, target: &TestSshd, n: usize) -> Option<Results> {
    let bastion = TestSshd::start()?;
    let hop = Duration::from_millis(HOP_RTT_MS);
    let outer = LatencyProxy::start(&format!("{}:{}", bastion.address, bastion.port), hop);
    let inner = LatencyProxy::start(&format!("{}:{}", target.address, target.port), hop);
    let chained = LatencyProxy::start(&inner.addr(), hop);
    let dir = w.join("bastion");
    std::fs::create_dir_all(&dir).unwrap();
    let known = dir.join("known_hosts");
    let lines = [
        known_line(&bastion, outer.port),
        known_line(target, inner.port),
        known_line(target, chained.port),
    ];
    std::fs::write(&known, lines.join("\n") + "\n").unwrap();

    let through = site(
        &dir.join("through"),
        target,
        inner.port,
        Some((&bastion, outer.port)),
        &known,
        repo,
    );
    let direct = site(&dir.join("direct"), target, inner.port, None, &known, repo);
    let two_links = site(&dir.join("two"), target, chained.port, None, &known, repo);
    let alone = Flip::new_at(&dir.join("alone"), &bastion, outer.port, &known, repo, "");
    for f in [&through, &direct, &two_links] {
        f.deploy().await;
    }
    let (mut t, mut d, mut l, mut s) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut outer_rt, mut inner_rt, mut direct_rt) = (Vec::new(), Vec::new(), Vec::new());
    let settle = |p: &LatencyProxy| assert!(p.wait_closed(Duration::from_secs(10)));
    for i in 0..=n {
        // A deploy before each rollback, so there is always a release to go back to.
        for f in [&through, &direct, &two_links] {
            f.deploy().await;
        }
        for p in [&outer, &inner, &chained] {
            settle(p);
        }
        let (o0, i0) = (outer.tally(), inner.tally());
        let took = through.rollback().await.took;
        settle(&outer);
        settle(&inner);
        let (o, ii) = (outer.tally() - o0, inner.tally() - i0);
        let i1 = inner.tally();
        let took_direct = direct.rollback().await.took;
        settle(&inner);
        let di = inner.tally() - i1;
        let took_two = two_links.rollback().await.took;
        let connect = alone.connect_true().await.calls;
        let set_up = connect
            .iter()
            .find(|(what, _)| *what == "connect")
            .expect("a connect")
            .1;
        if i > 0 {
            t.push(took);
            d.push(took_direct);
            l.push(took_two);
            s.push(set_up);
            outer_rt.push(o.round_trips + o.connections);
            inner_rt.push(ii.round_trips + ii.connections);
            direct_rt.push(di.round_trips + di.connections);
        }
    }
    let mid = |mut v: Vec<usize>| {
        v.sort();
        v[v.len() / 2]
    };
    Some(Results {
        through: median(t),
        direct: median(d),
        two_links: median(l),
        set_up: median(s),
        outer_rt: mid(outer_rt),
        inner_rt: mid(inner_rt),
        direct_rt: mid(direct_rt),
    })
}

/// The figures and the verdict.
pub fn report(r: &Results) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    println!("through one bastion, {HOP_RTT_MS} ms RTT on each hop (rollback, medians):");
    println!(
        "  through the bastion: {:.0} ms (outer hop {} RT, inner hop {} RT, TCP included)",
        ms(r.through),
        r.outer_rt,
        r.inner_rt
    );
    println!(
        "  direct, one {HOP_RTT_MS} ms proxy: {:.0} ms ({} RT)",
        ms(r.direct),
        r.direct_rt
    );
    println!(
        "  direct, both proxies chained ({} ms path, no bastion): {:.0} ms",
        2 * HOP_RTT_MS,
        ms(r.two_links)
    );
    println!(
        "  the bastion's own set-up alone (connect + auth at {HOP_RTT_MS} ms): {:.0} ms",
        ms(r.set_up)
    );
    for (what, reference) in [
        ("vs direct at one hop", r.direct),
        ("vs the same two links without the bastion", r.two_links),
    ] {
        let more = r.through.saturating_sub(reference);
        println!(
            "  {} bastion costs {:.0} ms more {what} (target ≤ its set-up, {:.0} ms)",
            if more <= r.set_up { "met   " } else { "MISSED" },
            ms(more),
            ms(r.set_up)
        );
    }
}
