//! The workspace's skills as MCP resources, the way the MCP Skills extension (SEP-2640,
//! `io.modelcontextprotocol/skills`; modelcontextprotocol/modelcontextprotocol PR 2640) lays
//! them out: each skill's `SKILL.md` at `skill://<id>/SKILL.md` (`text/markdown`, `name` and
//! `description` from its frontmatter) in `resources/list`, the well-known discovery index
//! `skill://index.json` (`application/json`: `{"skills": [{"frontmatter", "url", "digest"}]}`,
//! the frontmatter verbatim as JSON, the digest `sha256:<hex>` of the file's bytes), and the
//! extension's `skills/list` / `skills/get` answers. Read-only; only `SKILL.md` is served
//! (never the rest of a skill folder: sources, scripts, components), each file at most
//! [`MAX_SKILL_MD_BYTES`] (the size the loader accepts) and the index at most
//! [`MAX_INDEX_BYTES`].

use std::path::Path;

use rmcp::model::{
    GetSkillResult, ListSkillsResult, ReadResourceResult, Resource, ResourceContents, Skill,
    SkillFrontmatter, SkillResource, SkillResources,
};
use rmcp::ErrorData;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt as _;

use crate::skill_dir::SkillDir;
pub use crate::skill_dir::MAX_SKILL_MD_BYTES;
use crate::workspace::skills::SkillSnapshot;

/// The URI of the discovery index (SEP-2640 "Discovery").
pub const INDEX_URI: &str = "skill://index.json";

/// Largest index served, in bytes; a larger one is a resource error naming the budget.
pub const MAX_INDEX_BYTES: usize = 4 * 1024 * 1024;

const MARKDOWN: &str = "text/markdown";
const JSON: &str = "application/json";

/// `skill://<id>/SKILL.md`.
pub fn skill_uri(id: &str) -> String {
    format!("skill://{id}/SKILL.md")
}

/// The id in `skill://<id>/SKILL.md`, if `uri` has that shape.
fn id_of(uri: &str) -> Option<&str> {
    let id = uri.strip_prefix("skill://")?.strip_suffix("/SKILL.md")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// `resources/list`: the index, then each listed skill's `SKILL.md`, by id.
pub fn list(snapshot: &SkillSnapshot) -> Vec<Resource> {
    let index = Resource::new(INDEX_URI, "index.json")
        .with_description("The skills of this workspace (MCP Skills extension discovery index)")
        .with_mime_type(JSON);
    let skills = snapshot.listed.iter().map(|(id, dir)| {
        Resource::new(skill_uri(id), name_of(dir))
            .with_description(dir.meta.description.clone())
            .with_mime_type(MARKDOWN)
    });
    std::iter::once(index).chain(skills).collect()
}

/// `resources/read` of `uri`: the index or a listed skill's `SKILL.md`. An unknown URI is
/// `-32002` (resource not found); an unreadable or oversized file an internal error naming it.
pub async fn read(snapshot: &SkillSnapshot, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    if uri == INDEX_URI {
        let text = index(snapshot).await?;
        let contents = ResourceContents::text(text, uri).with_mime_type(JSON);
        return Ok(ReadResourceResult::new(vec![contents]));
    }
    let dir = listed(snapshot, uri)?;
    let bytes = skill_md(dir).await?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ErrorData::internal_error(format!("{uri} is not UTF-8"), None))?;
    let contents = ResourceContents::text(text, uri).with_mime_type(MARKDOWN);
    Ok(ReadResourceResult::new(vec![contents]))
}

/// `skills/list`: every listed skill with its one file.
pub async fn list_skills(snapshot: &SkillSnapshot) -> Result<ListSkillsResult, ErrorData> {
    let mut skills = Vec::new();
    for (id, dir) in &snapshot.listed {
        skills.push(skill(id, dir).await?);
    }
    Ok(ListSkillsResult::with_all_items(skills))
}

/// `skills/get` of the skill whose `SKILL.md` is `uri`; `-32602` for any other URI.
pub async fn get_skill(snapshot: &SkillSnapshot, uri: &str) -> Result<GetSkillResult, ErrorData> {
    let id = id_of(uri)
        .filter(|id| snapshot.listed.contains_key(*id))
        .ok_or_else(|| ErrorData::invalid_params(format!("unknown skill {uri}"), None))?;
    let dir = &snapshot.listed[id];
    Ok(GetSkillResult::new(skill(id, dir).await?))
}

/// The listed skill whose `SKILL.md` is `uri`, or resource-not-found.
fn listed<'s>(snapshot: &'s SkillSnapshot, uri: &str) -> Result<&'s SkillDir, ErrorData> {
    id_of(uri)
        .and_then(|id| snapshot.listed.get(id))
        .ok_or_else(|| ErrorData::resource_not_found(format!("no resource {uri}"), None))
}

/// The skill's name from its frontmatter, else its id.
fn name_of(dir: &SkillDir) -> String {
    if dir.meta.name.is_empty() {
        dir.id.clone()
    } else {
        dir.meta.name.clone()
    }
}

/// The frontmatter as JSON, verbatim; `{name, description}` when it is not JSON-shaped YAML.
fn frontmatter(dir: &SkillDir) -> serde_json::Map<String, Value> {
    match serde_yaml::from_str::<Value>(&dir.frontmatter) {
        Ok(Value::Object(map)) => map,
        _ => {
            let mut map = serde_json::Map::new();
            map.insert("name".into(), Value::String(name_of(dir)));
            map.insert("description".into(), dir.meta.description.clone().into());
            map
        }
    }
}

/// One skill for `skills/list` / `skills/get`: its frontmatter and its `SKILL.md` with digest.
async fn skill(id: &str, dir: &SkillDir) -> Result<Skill, ErrorData> {
    let uri = skill_uri(id);
    let bytes = skill_md(dir).await?;
    let mut front = SkillFrontmatter::new(name_of(dir), dir.meta.description.clone());
    for (key, value) in frontmatter(dir) {
        if key != "name" && key != "description" {
            front = front.with_field(key, value);
        }
    }
    let files = SkillResources::Files(vec![SkillResource::from_bytes(&uri, &bytes)]);
    Ok(Skill::new(uri, front, files))
}

/// The discovery index text; over [`MAX_INDEX_BYTES`] is an error naming the budget.
async fn index(snapshot: &SkillSnapshot) -> Result<String, ErrorData> {
    let mut entries = Vec::new();
    for (id, dir) in &snapshot.listed {
        let bytes = skill_md(dir).await?;
        entries.push(json!({
            "frontmatter": frontmatter(dir),
            "url": skill_uri(id),
            "digest": rmcp::model::sha256_digest(&bytes),
        }));
    }
    let text = json!({ "skills": entries }).to_string();
    if text.len() > MAX_INDEX_BYTES {
        return Err(ErrorData::internal_error(
            format!(
                "{INDEX_URI} would be {} bytes, over the {MAX_INDEX_BYTES}-byte index budget",
                text.len()
            ),
            None,
        ));
    }
    Ok(text)
}

/// The bytes of `dir`'s `SKILL.md`, at most [`MAX_SKILL_MD_BYTES`]; errors name the file.
async fn skill_md(dir: &SkillDir) -> Result<Vec<u8>, ErrorData> {
    let path = dir.dir.join("SKILL.md");
    read_capped(&path, MAX_SKILL_MD_BYTES)
        .await
        .map_err(|why| ErrorData::internal_error(format!("{}: {why}", path.display()), None))
}

/// Reads at most `cap` bytes of `path`; a longer file is an error, never a truncated answer.
async fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot open: {e}"))?;
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(format!("over {cap} bytes"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_uris_round_trip_and_others_are_refused() {
        assert_eq!(id_of(&skill_uri("json-query")), Some("json-query"));
        for uri in [
            "skill://a/b/SKILL.md",
            "skill:///SKILL.md",
            "file:///etc/passwd",
            "skill://x/../SKILL.md/x",
            INDEX_URI,
        ] {
            assert_eq!(id_of(uri), None, "{uri}");
        }
    }

    #[tokio::test]
    async fn a_file_over_the_cap_is_an_error_not_a_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("SKILL.md");
        std::fs::write(&path, "x".repeat(11)).unwrap();
        assert_eq!(read_capped(&path, 11).await.unwrap().len(), 11);
        let err = read_capped(&path, 10).await.unwrap_err();
        assert!(err.contains("over 10 bytes"), "{err}");
    }
}
