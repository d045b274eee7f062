// ApiError — a request that cairnd refuses: the HTTP status, a stable error code and a message,
// answered as {"error": {"code": ..., "message": ...}}. Thrown anywhere below the router.
#pragma once

#include <boost/json/object.hpp>
#include <stdexcept>
#include <string>

namespace cairn::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message,
           boost::json::object details = {})
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        details_(std::move(details)) {}

  int status() const { return status_; }
  const std::string& code() const { return code_; }
  // More members of the error object, e.g. {"expected": 18} for a sequence gap.
  const boost::json::object& details() const { return details_; }

 private:
  int status_;
  std::string code_;
  boost::json::object details_;
};

}  // namespace cairn::server
