#pragma once

// `GET /openapi.json`: the OpenAPI 3.1 document of this service, generated at start-up from the
// router's own route table and the documentation attached to each route here. One source of
// truth: every route of the router is emitted (a route without a doc entry gets a minimal one),
// and `check_route_docs` (run by the unit tests) refuses both an undocumented route and a doc
// entry without a route. Schemas are JSON Schema 2020-12 texts; the turn request's schema comes
// from the decoder's own field table (`turn_request_schema`).

#include "transport/http/error_catalog.hpp"
#include "transport/http/router.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace caa::api {

/// What a successful response body is.
enum class body_kind : uint8_t {
  json,         ///< `application/json`
  sse,          ///< `text/event-stream` (the turn events of API.md)
  json_or_sse,  ///< JSON pages, or the live stream with `Accept: text/event-stream`
  websocket,    ///< a WebSocket upgrade (101)
  text,         ///< `text/plain` (Prometheus exposition)
};

/// Which error envelope a route answers with.
enum class error_shape : uint8_t {
  api,     ///< `{"error":{"code","message","details"}}` (component `Error`)
  openai,  ///< `{"error":{"message","type","code","param"}}` (component `OpenAIError`)
};

/// A query or header parameter of a route.
struct param_doc {
  std::string name;         ///< e.g. "page"
  std::string in;           ///< "query" or "header"
  std::string schema;       ///< JSON Schema text
  std::string description;  ///< one sentence
  bool required = false;    ///< whether the route refuses a request without it
};

/// One documented success response.
struct response_doc {
  unsigned status = 200;    ///< HTTP status
  std::string description;  ///< what it means
  std::string schema;       ///< JSON Schema text of the body ("" for none)
};

/// The documentation of one route, keyed by (method, path template as registered).
struct route_doc {
  std::string method;                     ///< "GET", "POST", ...
  std::string path_template;              ///< e.g. "/api/v1/sessions/{id:uuid}"
  std::string tag;                        ///< the group in the document
  std::string summary;                    ///< one line
  std::string description;                ///< details ("" for none)
  std::string request_schema;             ///< JSON Schema text of the JSON body ("" for none)
  std::vector<param_doc> params;          ///< query and header parameters
  std::vector<response_doc> responses{};  ///< success responses
  std::vector<unsigned> errors{};         ///< route-specific error statuses (see `openapi.cpp`)
  body_kind body = body_kind::json;       ///< the kind of the success body
  error_shape errors_as = error_shape::api;
};

/// A named schema of `components.schemas`.
using component_schema = std::pair<std::string, std::string>;

/// The doc entries of every route of the service.
const std::vector<route_doc>& route_docs();

/// `components.schemas`: the error envelopes and the shared resource schemas.
const std::vector<component_schema>& component_schemas();

namespace detail {
/// The doc entries of the routes of this tree (`openapi_docs.cpp`).
std::vector<route_doc> core_route_docs();
/// The doc entries of the OpenAI-compatible routes (`openapi_docs_surfaces.cpp`).
std::vector<route_doc> openai_route_docs();
/// The doc entries of the usage and tenant-limit routes (`openapi_docs_surfaces.cpp`).
std::vector<route_doc> usage_route_docs();
/// The shared schemas of the core routes (`openapi_schemas.cpp`).
std::vector<component_schema> core_component_schemas();
/// The shared schemas of the OpenAI-compatible and usage routes (`openapi_docs_surfaces.cpp`).
std::vector<component_schema> surface_component_schemas();
/// The doc entries of health, metrics, this document, the WebSocket, keys and the cluster
/// (`openapi_docs_edge.cpp`).
std::vector<route_doc> edge_route_docs();
/// `{"$ref":"#/components/schemas/<component>"}`.
std::string schema_ref(std::string_view component);
/// The `page` query parameter of a paged list.
param_doc page_param();
/// The `page_size` query parameter of a paged list, `fallback` by default.
param_doc page_size_param(int fallback);
/// Every row of the error catalogue (`errc` and the edge conditions), in `errc` order; the
/// source of the error codes and statuses the document lists.
std::vector<http::catalog_entry> error_catalog_rows();
}  // namespace detail

/// What `check_route_docs` found; empty lists mean the document and the router agree.
struct doc_problems {
  std::vector<std::string> undocumented;  ///< "GET /path" of routes without a doc entry
  std::vector<std::string> unrouted;      ///< doc entries without a route
  std::vector<std::string> duplicated;    ///< doc entries given twice
  std::vector<std::string> bad_schemas;   ///< schema texts that are not JSON objects

  /// Whether nothing was found.
  bool empty() const noexcept {
    return undocumented.empty() && unrouted.empty() && duplicated.empty() && bad_schemas.empty();
  }
};

/// Compares the routes of `r` with `docs` and parses every schema text of `docs`.
doc_problems check_route_docs(const http::router& r, const std::vector<route_doc>& docs);

/// The OpenAPI 3.1 document of the routes of `r`, documented by `docs` (compact JSON).
std::string openapi_document(const http::router& r, const std::vector<route_doc>& docs);

/// Adds `GET /openapi.json` (public) to `r`, serving the document of every route of `r` (itself
/// included), built once now: call it after every other route is added.
void add_openapi_route(http::router& r);

}  // namespace caa::api
