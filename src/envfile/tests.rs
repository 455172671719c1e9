use super::*;

#[test]
fn reads_what_laravel_reads() {
    let text = "# app\nAPP_NAME=Laravel\nexport APP_ENV = local # here\n\nA='x # y $Z'\nB=\"q \\\" \\$H \\\\ n\"\nC=\nD=\"two\nlines\"\nbad line\nE=a b\nA=second\n";
    let f = EnvFile::parse(text);
    assert_eq!(f.text(), text, "nothing is lost");
    assert_eq!(f.get("APP_NAME"), Some("Laravel"));
    assert_eq!(f.get("APP_ENV"), Some("local"));
    assert_eq!(f.get("A"), Some("x # y $Z"), "the first assignment wins");
    assert_eq!(f.get("B"), Some("q \" $H \\ n"));
    assert_eq!(f.get("C"), Some(""));
    assert_eq!(f.get("D"), Some("two\nlines"));
    assert_eq!(
        f.get("E"),
        None,
        "an unquoted value with a space is refused"
    );
    assert_eq!(f.invalid_lines(), vec![10, 11]);
}

#[test]
fn every_value_round_trips_through_set() {
    let hostile = [
        "",
        "plain",
        "base64:AbC+/=",
        "with space",
        "it's",
        "\"double\"",
        "$HOME ${APP_KEY} `id` $(id)",
        "a#b # c",
        "back\\slash\\",
        "both ' and \" and $ and \\",
        " leading and trailing ",
        "ünïcødé ✓",
        "'",
        "=",
    ];
    for v in hostile {
        check_value("K", v).unwrap();
        let text = set("A=1\nK=old\n", &[("K".into(), v.into())]);
        let f = EnvFile::parse(&text);
        assert_eq!(f.get("K"), Some(v), "{v:?} written as {text:?}");
        assert_eq!(f.get("A"), Some("1"));
        assert!(f.invalid_lines().is_empty(), "{text:?}");
    }
}

#[test]
fn set_and_unset_touch_only_their_keys() {
    let text = "# keep me\nA=1\nB='two'\nA=dup\n\nC=3";
    let out = set(
        text,
        &[("A".into(), "new".into()), ("Z".into(), "z z".into())],
    );
    assert_eq!(out, "# keep me\nA=new\nB='two'\n\nC=3\nZ='z z'\n");
    let (out, found) = unset(&out, &["B".into(), "NOPE".into()]);
    assert_eq!(out, "# keep me\nA=new\n\nC=3\nZ='z z'\n");
    assert_eq!(found, vec![true, false]);
}

#[test]
fn keys_and_values_are_checked() {
    for ok in ["A", "_x", "APP_KEY2"] {
        check_key(ok).unwrap();
    }
    for bad in ["", "1A", "A-B", "A.B", "A B", "A=B", "É"] {
        assert!(check_key(bad).is_err(), "{bad:?}");
    }
    for bad in ["a\nb", "a\rb", "a\tb", "a\0b"] {
        assert!(check_value("K", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn diff_and_show_never_carry_a_value() {
    let old = "A=secret-one\nB=2\n# DB_PASSWORD=hunter2\nC=\n";
    let new = "A=secret-two\nC=\nD=new-secret\n";
    let d = diff(old, new);
    assert_eq!(
        d.changes,
        vec![
            Change::Changed("A".into()),
            Change::Added("D".into()),
            Change::Removed("B".into())
        ]
    );
    assert_eq!(d.summary(), "~A +D -B");
    let all = d.lines().join("\n") + &redacted(old).join("\n") + &redacted(new).join("\n");
    for secret in ["secret-one", "secret-two", "new-secret", "hunter2"] {
        assert!(!all.contains(secret), "{all}");
    }
    assert_eq!(
        redacted(old),
        vec![
            "A=[redacted]",
            "B=[redacted]",
            "#DB_PASSWORD=[redacted]",
            "C= (empty)"
        ]
    );
    assert!(diff("A=1\n", "A=1\n").is_empty());
    let layout = diff("A=1\n", "# note\nA='1'\n");
    assert!(layout.other_text && layout.changes.is_empty());
    assert_eq!(
        redacted("X=\"open\nY=1\n"),
        vec![
            "[line 1 does not parse as KEY=VALUE; not shown]",
            "Y=[redacted]"
        ]
    );
}
