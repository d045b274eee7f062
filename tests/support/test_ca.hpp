// TestCa — a throwaway certificate authority made at test time with the `openssl` command: a CA
// and a server certificate it signed for 127.0.0.1 and localhost, valid for two days.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/process.hpp"

namespace cairn::test {

class TestCa {
 public:
  // Writes <dir>/<name>-ca.pem, <name>-server.pem and <name>-server.key.
  TestCa(const std::filesystem::path& dir, const std::string& name) {
    const std::string prefix = (dir / name).string();
    ca_ = prefix + "-ca.pem";
    cert_ = prefix + "-server.pem";
    key_ = prefix + "-server.key";
    const std::string ca_key = prefix + "-ca.key", csr = prefix + "-server.csr",
                      ext = prefix + "-server.ext";
    std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                          "extendedKeyUsage=serverAuth\n";
    const std::vector<std::vector<std::string>> steps = {
        {"/usr/bin/env",
         "openssl",
         "req",
         "-x509",
         "-newkey",
         "ec",
         "-pkeyopt",
         "ec_paramgen_curve:prime256v1",
         "-nodes",
         "-keyout",
         ca_key,
         "-out",
         ca_,
         "-days",
         "2",
         "-subj",
         "/CN=Cairn test CA " + name,
         "-addext",
         "basicConstraints=critical,CA:TRUE",
         "-addext",
         "keyUsage=critical,keyCertSign,cRLSign"},
        {"/usr/bin/env", "openssl", "req", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key_, "-out", csr, "-subj",
         "/CN=127.0.0.1"},
        {"/usr/bin/env", "openssl", "x509", "-req", "-in", csr, "-CA", ca_, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert_, "-days", "2", "-extfile", ext},
    };
    for (const auto& step : steps) {
      const RunResult result = run(step);
      EXPECT_EQ(result.status, 0) << "openssl failed: " << result.err;
    }
  }

  const std::string& ca() const { return ca_; }
  const std::string& cert() const { return cert_; }
  const std::string& key() const { return key_; }

 private:
  std::string ca_, cert_, key_;
};

}  // namespace cairn::test
