// Anchor translation unit of the caa_transport library (the library is never empty).
namespace caa::transport {
/// The transport layer's name, for diagnostics.
extern const char* const layer_name;
const char* const layer_name = "transport";
}  // namespace caa::transport
