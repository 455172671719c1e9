//! A real application, shaped like Laravel's skeleton, over real nginx and PHP-FPM (PHP-FPM's
//! workers as www-data, as on a server): the app the test writes itself boots from its own
//! `vendor/` (whose autoloader finds the app from its real path, which a `vendor` linked into
//! `shared/` breaks), the storage skeleton reaches `shared/`, the web user can write sessions,
//! cache and logs (`writable_mode = "acl"`), and a build whose install breaks `vendor/` and fails
//! leaves the live site answering under load. Deployed with the default `shared` and `cached`.

use crate::support::web::{Load, WebStack, free_port, get};
use crate::support::{DOMAIN, Harness};
use crate::web::assert_all_ok;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

/// Laravel's `.gitignore` in each storage folder: the folder is in the repository, its content not.
const IGNORE_ALL: &str = "*\n!.gitignore\n";

/// Composer's role: writes `vendor/autoload.php`, which (like composer's `autoload_real.php`)
/// finds the application from its own real path: PHP resolves symlinks in `__DIR__`. Installs
/// incrementally: a vendor/ that already has this lock's packages is left as it is. With a
/// `BREAK` file in the repository it writes a broken autoloader and fails, as a half-done
/// install does.
const INSTALL: &str = r#"#!/bin/sh
set -e
lock=$(cat composer.lock)
mkdir -p vendor
if [ -f vendor/installed ] && [ "$(cat vendor/installed)" = "$lock" ]; then
  echo "composer: nothing to install"
  exit 0
fi
if [ -f BREAK ]; then
  echo '<?php throw new Exception("half-installed");' > vendor/autoload.php
  echo "composer: could not download acme/broken" >&2
  exit 1
fi
cat > vendor/autoload.php <<'PHP'
<?php
$app = dirname(__DIR__);
if (!is_file($app . '/app/App.php')) {
    throw new RuntimeException("no application at $app");
}
require $app . '/app/App.php';
PHP
printf '%s' "$lock" > vendor/installed
echo "composer: installed $lock"
"#;

/// The application: every request writes a session, a cache entry, a log line and a compiled
/// file of bootstrap/cache, as Laravel does; any failed write is a 500.
const APP: &str = r#"<?php
function app_handle(): string {
    $base = dirname(__DIR__);
    $files = [
        "$base/storage/framework/sessions/" . bin2hex(random_bytes(8)) => 'session',
        "$base/storage/framework/cache/data" => 'cached',
        "$base/storage/framework/views/compiled.php" => '<?php // view',
        "$base/storage/logs/laravel.log" => "request\n",
        "$base/bootstrap/cache/packages.php" => '<?php return [];',
    ];
    foreach ($files as $f => $text) {
        $flags = str_ends_with($f, '.log') ? FILE_APPEND : 0;
        if (@file_put_contents($f, $text, $flags) === false) {
            http_response_code(500);
            return "cannot write $f";
        }
    }
    return 'ok ' . basename($base);
}
"#;

const INDEX: &str = r#"<?php
require __DIR__ . '/../vendor/autoload.php';
echo app_handle(), "\n";
"#;

/// `php artisan config:cache`: boots like the web side and writes bootstrap/cache/config.php.
const ARTISAN: &str = r#"<?php
require __DIR__ . '/vendor/autoload.php';
if (($argv[1] ?? '') === 'config:cache') {
    file_put_contents(__DIR__ . '/bootstrap/cache/config.php', '<?php return [];');
    echo "Configuration cached successfully.\n";
}
"#;

/// A deploy script with what users write: an if, a loop, a continuation and a heredoc.
const SCRIPT: &str = r#"sh ./composer-install.sh
if [ -f artisan ]; then
  php artisan config:cache
fi
for d in cache sessions views; do
  test -d "storage/framework/$d" || { echo "no storage/framework/$d"; exit 1; }
done
echo "built" \
  "$FLIPDECK_RELEASE"
cat > storage/logs/deploys.log <<EOF
deployed $FLIPDECK_RELEASE
EOF"#;

fn write_app(h: &Harness) {
    for d in [
        "storage/app",
        "storage/framework/cache",
        "storage/framework/sessions",
        "storage/framework/views",
        "storage/logs",
        "bootstrap/cache",
    ] {
        std::fs::create_dir_all(h.repo.join(d)).unwrap();
        std::fs::write(h.repo.join(d).join(".gitignore"), IGNORE_ALL).unwrap();
    }
    std::fs::remove_file(h.repo.join("storage/framework/.gitkeep")).unwrap();
    std::fs::write(h.repo.join(".gitignore"), "/vendor/\n").unwrap();
    std::fs::write(h.repo.join("composer.lock"), "v1").unwrap();
    std::fs::create_dir_all(h.repo.join("app")).unwrap();
    std::fs::write(h.repo.join("app/App.php"), APP).unwrap();
    std::fs::write(h.repo.join("artisan"), ARTISAN).unwrap();
    std::fs::write(h.repo.join("composer-install.sh"), INSTALL).unwrap();
    h.commit("public/index.php", INDEX);
}

/// The uid of www-data, read from the passwd file.
fn www_data_uid() -> u32 {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == "www-data").then(|| f[2].parse().unwrap())
        })
        .expect("a www-data user (Debian has one)")
}

fn owner(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .uid()
}

#[test]
fn a_laravel_shaped_app_boots_and_a_failed_build_leaves_it_serving() {
    let Some(stack) = WebStack::start_as(Some("www-data")) else {
        return;
    };
    let uid = www_data_uid();
    let port = free_port();
    let h = Harness::local();
    // www-data must reach the releases, as it reaches /var/www on a server.
    std::fs::set_permissions(h.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    write_app(&h);
    h.write_config(&format!(
        "{}server:reload_command = \"\"\ndeployment_script = '''{SCRIPT}'''\nwritable_mode = \"acl\"",
        stack.config(port)
    ));
    h.ok(&["provision", DOMAIN]);
    // The storage skeleton reached shared/; bootstrap/cache is the release's.
    let shared = h.base().join("shared");
    for d in [
        "app",
        "framework/cache",
        "framework/sessions",
        "framework/views",
        "logs",
    ] {
        let ignore = shared.join("storage").join(d).join(".gitignore");
        assert_eq!(std::fs::read_to_string(&ignore).unwrap(), IGNORE_ALL, "{d}");
    }

    let out = h.ok(&["deploy", DOMAIN]);
    for line in [
        "composer: installed v1",
        "Configuration cached successfully.",
        "built ",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    let live = h.live_release().unwrap();
    let rel = h.base().join(&live);
    assert_eq!(
        std::fs::read_to_string(shared.join("storage/logs/deploys.log")).unwrap(),
        format!("deployed {live}\n"),
        "the heredoc ran"
    );
    assert!(
        std::fs::symlink_metadata(rel.join("vendor"))
            .unwrap()
            .is_dir()
    );
    stack.wait_for(|| get(port, "/", DOMAIN).status == 200);
    let r = get(port, "/", DOMAIN);
    assert_eq!(r.body.trim(), format!("ok {live}"), "{}", stack.logs());
    assert!(!shared.join("vendor").exists() && !shared.join("bootstrap").exists());
    // PHP-FPM, as www-data, wrote its session, cache, compiled view and log, and overwrote the
    // config cache the deploy (as root) made.
    let sessions: Vec<_> = std::fs::read_dir(shared.join("storage/framework/sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with(".gitignore"))
        .collect();
    assert!(!sessions.is_empty());
    assert!(sessions.iter().all(|p| owner(p) == uid));
    for f in [
        "storage/framework/cache/data",
        "storage/framework/views/compiled.php",
        "storage/logs/laravel.log",
    ] {
        assert_eq!(owner(&shared.join(f)), uid, "{f}");
    }
    assert_eq!(owner(&rel.join("bootstrap/cache/packages.php")), uid);

    // The next deploy starts from the live release's vendor/: nothing to install.
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(out.contains("composer: nothing to install"), "{out}");
    let live = h.live_release().unwrap();
    let autoload = h.base().join(&live).join("vendor/autoload.php");
    let good = std::fs::read_to_string(&autoload).unwrap();

    // A new dependency whose install breaks vendor/ and fails, while clients keep coming.
    std::fs::write(h.repo.join("BREAK"), "").unwrap();
    h.commit("composer.lock", "v2");
    let load = Load::start(port, "/", 4, Duration::from_secs(60));
    load.wait_past(Duration::from_millis(300), 20);
    let out = h.run(&["deploy", DOMAIN]);
    load.wait_past(Duration::from_millis(300), 20);
    let samples = load.finish();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("composer: could not download acme/broken"),
        "{text}"
    );
    assert!(
        text.contains("the deploy script failed (exit code 1) at `sh ./composer-install.sh`"),
        "{text}"
    );
    assert_all_ok(&samples, &stack);
    assert!(
        samples
            .iter()
            .all(|s| s.response.body.trim() == format!("ok {live}"))
    );
    assert_eq!(h.live_release(), Some(live));
    assert_eq!(
        std::fs::read_to_string(&autoload).unwrap(),
        good,
        "the live vendor/ untouched"
    );
}

/// What stops `writable` says what to do about it, and the live site stays.
#[test]
fn writable_failures_say_what_to_do() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release();
    h.write_config(
        "deployment_script = \"true\"\nwritable_mode = \"acl\"\nweb_user = \"no-such-user\"",
    );
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("web_user no-such-user does not exist on this server: set web_user to the user PHP-FPM runs as"),
        "{text}"
    );
    // A server without setfacl: a PATH with every program of this one but setfacl.
    let bin = crate::messages::bin_dir(&h, "bin-without-acl", "setfacl", &[]);
    h.write_config("deployment_script = \"true\"\nwritable_mode = \"acl\"");
    let out = h
        .cmd(&["deploy", DOMAIN])
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("setfacl not found: install acl, or use writable_mode = \"group\""),
        "{text}"
    );
    assert_eq!(h.live_release(), live);
    // The group mode: the web user's group owns storage, group-writable, folders setgid.
    h.write_config("deployment_script = \"true\"\nwritable_mode = \"group\"");
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(
        out.contains("storage: writable for www-data (group)"),
        "{out}"
    );
    let storage = h.base().join("shared/storage/framework");
    let meta = std::fs::metadata(&storage).unwrap();
    assert_eq!(
        meta.gid(),
        www_data_uid(),
        "www-data's group (gid = uid on Debian)"
    );
    assert_eq!(meta.mode() & 0o2070, 0o2070, "{:o}", meta.mode());
}
