//! The page that renders the document: Swagger UI, vendored by
//! utoipa-swagger-ui, inlined into one answer (the contract: nothing loads
//! from another host).

use std::sync::OnceLock;

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;

/// A page that renders this document (Swagger UI).
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    tag = "ops",
    responses((status = 200, description = "an HTML page", content_type = "text/html"))
)]
pub async fn docs_page() -> HttpResponse {
    static HTML: OnceLock<String> = OnceLock::new();
    let html = HTML.get_or_init(docs_html);
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(html.as_str())
}

/// Swagger UI's style and script inlined, then its start-up pointed at
/// this server's document: one request, about 1.7 MB (compressed when
/// asked, like every answer), built once.
fn docs_html() -> String {
    let file = |name: &str, element: &str| {
        let config = std::sync::Arc::new(utoipa_swagger_ui::Config::default());
        let file = utoipa_swagger_ui::serve(name, config)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("Swagger UI's {name} is vendored"));
        let text =
            String::from_utf8(file.bytes.into_owned()).expect("Swagger UI's files are UTF-8");
        // Inlined, its element's closing tag in the text would end it early.
        let closing = format!("</{element}");
        assert!(
            !text.to_ascii_lowercase().contains(&closing),
            "{name} holds {closing}"
        );
        text
    };
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lottery API</title>
<style>{style}</style>
</head>
<body>
<div id="swagger-ui"></div>
<script>{script}</script>
<script>
window.ui = SwaggerUIBundle({{ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true }});
</script>
</body>
</html>
"##,
        style = file("swagger-ui.css", "style"),
        script = file("swagger-ui-bundle.js", "script"),
    )
}
