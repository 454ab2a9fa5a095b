// Swagger UI from the locally installed swagger-ui-dist, reading this API's own OpenAPI document.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
