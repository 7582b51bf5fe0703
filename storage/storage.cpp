// Anchor translation unit of the caa_storage library (the library is never empty).
namespace caa::storage {
/// The storage layer's version tag, for diagnostics.
extern const char* const layer_name;
const char* const layer_name = "storage";
}  // namespace caa::storage
