//! `show`: prints what a torrent holds, for people (`show FILE`) or
//! machines (`--json`).

use std::io::Write;
use std::path::PathBuf;

use crate::env::Env;
use crate::error::Result;
use crate::format;
use crate::magnet::Magnet;
use crate::metainfo::Torrent;

/// Show what a .torrent file (or a magnet link) holds.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file ('-' for standard input), or a magnet link.
    pub torrent: PathBuf,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct FileReport {
    pub path: String,
    pub length: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub padding: bool,
    /// v2 merkle root (hex), for non-empty files of v2 and hybrid torrents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pieces_root: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attr: Option<String>,
}

/// Everything `show --json` prints.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub name: String,
    pub version: crate::metainfo::Version,
    /// v1 info hash; for a v2-only torrent, the truncated v2 hash its swarm uses.
    pub info_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_hash_v2: Option<String>,
    pub magnet: String,
    pub total_size: u64,
    pub piece_length: u64,
    pub piece_count: usize,
    pub private: bool,
    pub source: Option<String>,
    pub trackers: Vec<Vec<String>>,
    pub nodes: Vec<String>,
    pub web_seeds: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    pub creation_date: Option<i64>,
    pub multi_file: bool,
    pub files: Vec<FileReport>,
}

impl Report {
    pub fn new(torrent: &Torrent) -> Self {
        let meta = &torrent.meta;
        let info = &meta.info;
        let v2_files: std::collections::HashMap<String, &crate::metainfo::V2File> = info
            .file_tree
            .iter()
            .map(|f| (f.path.join("/"), f))
            .collect();
        Self {
            name: info.name.clone(),
            version: info.version,
            info_hash: torrent.info_hash.to_hex(),
            info_hash_v2: torrent
                .info_hash_v2
                .as_ref()
                .map(|h| crate::metainfo::hex(h)),
            magnet: Magnet::from_torrent(torrent).to_uri(),
            total_size: info.content_length(),
            piece_length: info.piece_length,
            piece_count: info.piece_count(),
            private: info.private,
            source: info.source.clone(),
            trackers: meta.tracker_tiers(),
            nodes: meta.nodes.iter().map(ToString::to_string).collect(),
            web_seeds: meta.web_seeds.clone(),
            comment: meta.comment.clone(),
            created_by: meta.created_by.clone(),
            creation_date: meta.creation_date,
            multi_file: matches!(info.layout, crate::metainfo::Layout::Multi { .. }),
            files: info
                .files()
                .into_iter()
                .map(|(path, length, padding)| {
                    let path = if path.is_empty() {
                        info.name.clone()
                    } else {
                        path.join("/")
                    };
                    let v2 = v2_files.get(&path);
                    FileReport {
                        pieces_root: v2
                            .and_then(|f| f.pieces_root.as_ref())
                            .map(|r| crate::metainfo::hex(r)),
                        attr: v2.and_then(|f| f.attr.clone()),
                        path,
                        length,
                        padding,
                    }
                })
                .collect(),
        }
    }
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    if let Some(magnet) = super::magnet::magnet_arg(&args.torrent)? {
        return show_magnet(&magnet, args.json, env);
    }
    let torrent = super::load_torrent(env, &args.torrent)?;
    let report = Report::new(&torrent);
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        writeln!(env.stdout, "{text}")?;
        return Ok(());
    }
    print_human(&report, &mut env.stdout)?;
    Ok(())
}

/// What a magnet link holds, and the link normalised.
fn show_magnet(magnet: &Magnet, json: bool, env: &mut Env) -> Result<()> {
    let report = serde_json::json!({
        "info_hash": magnet.info_hash.map(|h| h.to_hex()),
        "info_hash_v2": magnet.info_hash_v2.as_ref().map(|h| crate::metainfo::hex(h)),
        "name": magnet.name,
        "total_size": magnet.length,
        "trackers": magnet.trackers,
        "web_seeds": magnet.web_seeds,
        "exact_sources": magnet.exact_sources,
        "peers": magnet.peers,
        "magnet": magnet.to_uri(),
    });
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        writeln!(env.stdout, "{text}")?;
        return Ok(());
    }
    let out = &mut env.stdout;
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    writeln!(out, "Magnet link   (the metadata comes from peers or xs=)")?;
    writeln!(out, "Name          {}", or_none(magnet.name.clone()))?;
    writeln!(
        out,
        "Info hash     {}",
        or_none(magnet.info_hash.map(|h| h.to_hex()))
    )?;
    if let Some(v2) = &magnet.info_hash_v2 {
        writeln!(out, "Info hash v2  {}", crate::metainfo::hex(v2))?;
    }
    let size = magnet
        .length
        .map(|n| format!("{} ({n} bytes)", crate::format::size(n)));
    writeln!(out, "Size          {}", or_none(size))?;
    for (label, list) in [
        ("Tracker", &magnet.trackers),
        ("Web seed", &magnet.web_seeds),
        ("Source (xs)", &magnet.exact_sources),
        ("Peer (x.pe)", &magnet.peers),
    ] {
        for item in list {
            writeln!(out, "{label:<13} {item}")?;
        }
    }
    Ok(())
}

fn print_human(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let none = "-".to_owned();
    writeln!(out, "Name          {}", r.name)?;
    let version = match r.version {
        crate::metainfo::Version::V1 => "v1",
        crate::metainfo::Version::V2 => "v2 (BEP 52)",
        crate::metainfo::Version::Hybrid => "hybrid v1 + v2",
    };
    writeln!(out, "Version       {version}")?;
    if r.version.has_v1() {
        writeln!(out, "Info hash     {}", r.info_hash)?;
    }
    if let Some(v2) = &r.info_hash_v2 {
        writeln!(out, "Info hash v2  {v2}")?;
    }
    writeln!(out, "Magnet        {}", r.magnet)?;
    writeln!(
        out,
        "Size          {} ({} bytes)",
        format::size(r.total_size),
        r.total_size
    )?;
    writeln!(
        out,
        "Pieces        {} × {}",
        r.piece_count,
        format::size(r.piece_length)
    )?;
    writeln!(
        out,
        "Private       {}",
        if r.private { "yes" } else { "no" }
    )?;
    writeln!(out, "Source        {}", r.source.as_ref().unwrap_or(&none))?;
    if r.trackers.is_empty() {
        writeln!(out, "Trackers      -")?;
    }
    for (i, tier) in r.trackers.iter().enumerate() {
        let label = if i == 0 { "Trackers" } else { "" };
        writeln!(out, "{label:<14}tier {}: {}", i + 1, tier.join(", "))?;
    }
    list(out, "DHT nodes", &r.nodes)?;
    list(out, "Web seeds", &r.web_seeds)?;
    writeln!(out, "Comment       {}", r.comment.as_ref().unwrap_or(&none))?;
    writeln!(
        out,
        "Created by    {}",
        r.created_by.as_ref().unwrap_or(&none)
    )?;
    match r.creation_date {
        Some(secs) => writeln!(
            out,
            "Created on    {} ({secs})",
            format::utc_timestamp(secs)
        )?,
        None => writeln!(out, "Created on    -")?,
    }
    let count = r.files.iter().filter(|f| !f.padding).count();
    writeln!(out, "Files         {count}")?;
    for file in &r.files {
        let pad = if file.padding { "  (padding)" } else { "" };
        writeln!(
            out,
            "  {:>12}  {}{pad}",
            format::size(file.length),
            file.path
        )?;
        if let Some(root) = &file.pieces_root {
            writeln!(out, "  {:>12}  pieces root {root}", "")?;
        }
    }
    Ok(())
}

fn list(out: &mut dyn Write, label: &str, items: &[String]) -> std::io::Result<()> {
    if items.is_empty() {
        return writeln!(out, "{label:<14}-");
    }
    for (i, item) in items.iter().enumerate() {
        let label = if i == 0 { label } else { "" };
        writeln!(out, "{label:<14}{item}")?;
    }
    Ok(())
}
