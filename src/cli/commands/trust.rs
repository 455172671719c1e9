//! `trust SERVER [--yes]`: show the host key, ask, and record it in known_hosts. A changed key is
//! refused. A server behind bastions has each bastion's key checked first, in order, and trusted
//! the same way when it is not known yet.

use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::transport::ssh::{self, TrustOutcome};
use std::io::{BufRead, IsTerminal, Write};

pub async fn run(config: &Config, name: &str, yes: bool) -> Result<()> {
    let server = config
        .servers
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
            Error::usage(format!(
                "no server {name:?} in {}; servers: {}",
                config.path.display(),
                names.join(", ")
            ))
        })?;
    if server.transport != config::TransportKind::Ssh {
        return Err(Error::usage(format!(
            "server {name} uses the local transport: there is no host key to trust"
        )));
    }
    let params = crate::transport::connect::params_for(server)?;
    for (k, hop) in params.jump.iter().enumerate() {
        let mut through = hop.params.clone();
        through.jump = params.jump[..k].to_vec();
        trust_one(&format!("bastion {}", hop.label), &through, yes).await?;
    }
    trust_one(name, &params, yes).await
}

async fn trust_one(name: &str, params: &ssh::SshParams, yes: bool) -> Result<()> {
    let info = ssh::fetch_host_key(params)
        .await
        .map_err(|e| Error::failed(e.to_string()))?;
    println!(
        "{name} ({}:{}) presents a {} key with fingerprint {}",
        params.host, params.port, info.key_type, info.fingerprint_sha256
    );
    if let ssh::HostKeyStatus::Known = ssh::check_known_host(
        &params.known_hosts_file,
        &params.host,
        params.port,
        &info.key,
    )
    .map_err(|e| Error::failed(e.to_string()))?
    {
        println!("already trusted in {}", params.known_hosts_file.display());
        return Ok(());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::failed(
                "not trusting without confirmation: stdin is not a terminal; compare the fingerprint, then pass --yes",
            ));
        }
        print!(
            "Trust this key and add it to {}? [y/N] ",
            params.known_hosts_file.display()
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(Error::failed("host key not trusted"));
        }
    }
    match ssh::trust_host_key(params, &info).map_err(|e| Error::failed(e.to_string()))? {
        TrustOutcome::Added => println!("added to {}", params.known_hosts_file.display()),
        TrustOutcome::AlreadyKnown => {
            println!("already trusted in {}", params.known_hosts_file.display())
        }
    }
    Ok(())
}
