//! What utoipa's generics leave for the document's readers to mend, done
//! once on the JSON: an envelope's `data` names its answer's schema instead
//! of copying it (so a client generator makes one `EventView`, not one per
//! envelope), an optional request body is one that may be absent, not
//! one that may be `null` (a generated client then sends no body), and an
//! image answer is bytes, not utoipa's array of integers for `Vec<u8>`.

use serde_json::{json, Map, Value};

const SCHEMAS: &str = "#/components/schemas/";

/// Mends the document in place.
pub(super) fn refer_to_answers(doc: &mut Value) {
    let Some(schemas) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    name_envelope_data(schemas);
    let named: Vec<(String, Value)> = schemas
        .iter()
        .map(|(name, schema)| (name.clone(), schema.clone()))
        .collect();
    for (name, schema) in schemas.iter_mut() {
        // A schema is not replaced by a reference to itself, only what it holds.
        if let Some(properties) = schema.get_mut("properties") {
            refer(properties, &named, name);
        }
        if let Some(items) = schema.get_mut("items") {
            refer(items, &named, name);
        }
    }
    if let Some(paths) = doc.get_mut("paths") {
        refer(paths, &named, "");
        optional_bodies_absent(paths);
        images_are_bytes(paths);
    }
}

/// Every `image/*` answer's schema: a string of bytes (`format: binary`,
/// which generators turn into a file or a blob).
fn images_are_bytes(value: &mut Value) {
    if let Some(content) = value.get_mut("content").and_then(Value::as_object_mut) {
        for (media, described) in content.iter_mut() {
            if media.starts_with("image/") {
                described["schema"] = json!({"type": "string", "format": "binary"});
            }
        }
    }
    match value {
        Value::Object(map) => map.values_mut().for_each(images_are_bytes),
        Value::Array(list) => list.iter_mut().for_each(images_are_bytes),
        _ => {}
    }
}

/// `Envelope_X`'s `data` becomes a reference to `X`, which is added when
/// utoipa only inlined it (`Page_EventView`, `Items_Winner`).
fn name_envelope_data(schemas: &mut Map<String, Value>) {
    let envelopes: Vec<String> = schemas
        .keys()
        .filter(|name| name.starts_with("Envelope_"))
        .cloned()
        .collect();
    for envelope in envelopes {
        let answer = envelope["Envelope_".len()..].to_string();
        let data = &mut schemas[&envelope]["properties"]["data"];
        let inline = std::mem::replace(data, json!({ "$ref": format!("{SCHEMAS}{answer}") }));
        schemas.entry(answer).or_insert(inline);
    }
}

/// Every inline copy of a named schema under `value` becomes a reference
/// to it, except to `own` (the schema `value` belongs to).
fn refer(value: &mut Value, named: &[(String, Value)], own: &str) {
    if value.get("type").is_some_and(|t| t == "object") {
        if let Some((name, _)) = named.iter().find(|(n, s)| n != own && s == value) {
            *value = json!({ "$ref": format!("{SCHEMAS}{name}") });
            return;
        }
    }
    match value {
        Value::Object(map) => map.values_mut().for_each(|v| refer(v, named, own)),
        Value::Array(list) => list.iter_mut().for_each(|v| refer(v, named, own)),
        _ => {}
    }
}

/// A request body described as `oneOf [X, null]` (utoipa's `Option<X>`)
/// is `X`, and not required: absent rather than `null`.
fn optional_bodies_absent(paths: &mut Value) {
    let Some(paths) = paths.as_object_mut() else {
        return;
    };
    for body in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("requestBody"))
    {
        let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else {
            continue;
        };
        let mut optional = false;
        for media in content.values_mut() {
            let schema = &mut media["schema"];
            let Some(choices) = schema.get("oneOf").and_then(Value::as_array) else {
                continue;
            };
            if let [one, null] = choices.as_slice() {
                if null == &json!({"type": "null"}) {
                    *schema = one.clone();
                    optional = true;
                }
            }
        }
        if optional {
            body["required"] = json!(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_name_their_data_and_copies_become_references() {
        let view = json!({"type": "object", "properties": {"id": {"type": "integer"}}});
        let page =
            json!({"type": "object", "properties": {"items": {"type": "array", "items": view}}});
        let mut doc = json!({
            "components": {"schemas": {
                "View": view,
                "Envelope_View": {"type": "object", "properties": {"data": view}},
                "Envelope_Page_View": {"type": "object", "properties": {"data": page}},
            }},
            "paths": {"/x": {
                "put": {"requestBody": {"content": {"application/json": {
                    "schema": {"oneOf": [{"$ref": "#/components/schemas/View"}, {"type": "null"}]}
                }}}},
                "post": {"requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/View"}
                }}, "required": true}},
            }},
        });
        refer_to_answers(&mut doc);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["Envelope_View"]["properties"]["data"]["$ref"],
            "#/components/schemas/View"
        );
        assert_eq!(
            schemas["Envelope_Page_View"]["properties"]["data"]["$ref"],
            "#/components/schemas/Page_View"
        );
        assert_eq!(
            schemas["Page_View"]["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/View"
        );
        assert_eq!(
            schemas["View"], view,
            "a schema is not a reference to itself"
        );
        let body = &doc["paths"]["/x"]["put"]["requestBody"];
        assert_eq!(
            body["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/View"
        );
        assert_eq!(body["required"], false);
        assert_eq!(doc["paths"]["/x"]["post"]["requestBody"]["required"], true);
    }

    #[test]
    fn image_answers_are_bytes() {
        let mut doc = json!({"components": {"schemas": {}}, "paths": {"/i": {"get": {"responses": {"200": {
            "content": {"image/png": {"schema": {"type": "array", "items": {"type": "integer"}}}}
        }}}}}});
        refer_to_answers(&mut doc);
        assert_eq!(
            doc["paths"]["/i"]["get"]["responses"]["200"]["content"]["image/png"]["schema"],
            json!({"type": "string", "format": "binary"})
        );
    }
}
