//! ECS task definition JSON files (as registered, or as `describe-task-definition` output).

use std::sync::Arc;

use crate::model::{Format, Node, Resource};

/// Returns the task definition object if the document is one.
pub fn task_definition(doc: &Node) -> Option<&Node> {
    if doc.get("containerDefinitions").is_some() {
        return Some(doc);
    }
    doc.get("taskDefinition")
        .filter(|t| t.get("containerDefinitions").is_some())
}

pub fn resource(td: &Node, file: &Arc<str>) -> Resource {
    let family = td
        .get("family")
        .and_then(Node::as_str)
        .unwrap_or("task")
        .to_string();
    Resource {
        rtype: "aws_ecs_task_definition".into(),
        source_type: "ECS task definition".into(),
        address: format!("{file}::{family}"),
        name: family,
        format: Format::EcsJson,
        file: file.clone(),
        line: td.line,
        end_line: td.line,
        body: td.clone(),
        origin: None,
    }
}
