// The egress proxy's public face: construction, the default address check, endpoint handles.

#include "transport/sandbox/egress_proxy.hpp"

#include "transport/sandbox/egress_core.hpp"

#include "transport/outbound/client.hpp"

namespace caa::sandbox {

namespace {

/// The outbound SSRF guard with no operator exceptions: public unicast addresses only.
bool public_address(std::string_view addr) {
  static const outbound::egress_policy policy{};
  return outbound::address_allowed(addr, policy);
}

}  // namespace

std::shared_ptr<egress_proxy> egress_proxy::make(boost::asio::io_context& io, egress_config cfg) {
  if (!cfg.address_check) cfg.address_check = public_address;
  auto core = std::make_shared<detail::egress_core>(detail::egress_core{io, std::move(cfg)});
  return std::shared_ptr<egress_proxy>(new egress_proxy(std::move(core)));
}

egress_proxy::egress_proxy(std::shared_ptr<detail::egress_core> core) : core_(std::move(core)) {}

egress_proxy::~egress_proxy() = default;

caf::expected<std::shared_ptr<void>> egress_proxy::open_endpoint(std::string socket_path,
                                                                 std::string tenant_id,
                                                                 int owner_uid, int owner_gid) {
  if (auto err = validate(core_->cfg)) return err;
  auto ep = std::make_shared<detail::egress_endpoint>(core_, std::move(tenant_id),
                                                      std::move(socket_path));
  if (auto err = ep->open(owner_uid, owner_gid)) return err;
  ep->start();
  // Closes its endpoint when the owner lets go.
  struct handle {
    std::shared_ptr<detail::egress_endpoint> ep;
    ~handle() {
      if (ep) ep->close();
    }
  };
  auto h = std::make_shared<handle>();
  h->ep = std::move(ep);
  return std::shared_ptr<void>{std::move(h)};
}

}  // namespace caa::sandbox
