#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "StandinTestClient.h"
#include "standin/StandinServer.h"

namespace bridge::standin::test {

// A stand-in started in this process on an ephemeral port, and a client for it.
class StandinServerTest : public ::testing::Test {
protected:
    StandinServerTest() : client_(startedBaseUrl(), "bridge-demo-client", "bridge-demo-secret") {}

    std::int64_t counter(const std::string& name) const { return client_.counters()->getValue<Poco::Int64>(name); }
    void changeSettings(const std::string& json) const {
        ASSERT_EQ(client_.control("/control/settings", json).status, 200) << json;
    }

    StandinServer server_;
    StandinTestClient client_;

private:
    std::string startedBaseUrl() {
        server_.start();
        return server_.baseUrl();
    }
};

}  // namespace bridge::standin::test
