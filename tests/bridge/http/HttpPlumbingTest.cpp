#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/base/Metrics.h"
#include "bridge/http/ApiFamily.h"
#include "bridge/http/JsonBody.h"
#include "bridge/http/JsonWriter.h"

namespace bridge {
namespace {

Poco::JSON::Object::Ptr parseObject(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

// --- JsonWriter ---

std::string writtenString(std::string_view text) { return JsonWriter().value(text).take(); }

TEST(JsonWriterTest, QuotesBackslashesAndControlCharactersAreEscaped) {
    EXPECT_EQ(writtenString("say \"hi\" \\ bye"), R"("say \"hi\" \\ bye")");
    EXPECT_EQ(writtenString("\n\r\t\b\f"), R"("\n\r\t\b\f")");
    EXPECT_EQ(writtenString(std::string_view("\x01\x1f\0", 3)), R"("\u0001\u001f\u0000")");
}

TEST(JsonWriterTest, EveryByteBelowASpaceReadsBackUnchanged) {
    std::string everyControlCharacter;
    for (int c = 0; c < 0x20; ++c) everyControlCharacter += static_cast<char>(c);
    const std::string text = "before " + everyControlCharacter + " \"quoted\" \\ after";
    const std::string json = JsonWriter().beginObject().field("text", text).endObject().take();
    EXPECT_EQ(json.find('\n'), std::string::npos);
    EXPECT_EQ(parseObject(json)->getValue<std::string>("text"), text);
}

TEST(JsonWriterTest, Utf8PassesThroughByteForByte) {
    const std::string text = "Globex \xE2\x9C\xA8 Zo\xC3\xAB \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x9A\x80";
    EXPECT_EQ(writtenString(text), "\"" + text + "\"");
    EXPECT_EQ(
        parseObject(JsonWriter().beginObject().field("name", text).endObject().take())->getValue<std::string>("name"),
        text);
}

TEST(JsonWriterTest, NestedArraysAndObjectsAreSeparatedByCommas) {
    JsonWriter writer;
    writer.beginObject().key("items").beginArray();
    writer.value(1).beginObject().field("ok", true).field("name", "a").endObject();
    writer.beginArray().endArray().beginObject().endObject();
    writer.beginArray().value("x").beginArray().value(false).endArray().endArray();
    writer.endArray().key("empty").beginObject().endObject().field("last", 2).endObject();
    EXPECT_EQ(writer.take(), R"({"items":[1,{"ok":true,"name":"a"},[],{},["x",[false]]],"empty":{},"last":2})");
}

TEST(JsonWriterTest, OptionalValuesAreTheValueOrNull) {
    const std::string json = JsonWriter()
                                 .beginObject()
                                 .field("absentText", std::optional<std::string>())
                                 .field("text", std::optional<std::string>("x"))
                                 .field("absentNumber", std::optional<std::int64_t>())
                                 .field("number", std::optional<std::int64_t>(7))
                                 .field("absentFlag", std::optional<bool>())
                                 .field("flag", std::optional<bool>(false))
                                 .endObject()
                                 .take();
    EXPECT_EQ(json, R"({"absentText":null,"text":"x","absentNumber":null,"number":7,"absentFlag":null,"flag":false})");
}

TEST(JsonWriterTest, IntegersKeepEverySixtyFourBitValue) {
    const auto smallest = std::numeric_limits<std::int64_t>::min();
    const auto largest = std::numeric_limits<std::int64_t>::max();
    const std::string json = JsonWriter().beginArray().value(smallest).value(largest).value(0).endArray().take();
    EXPECT_EQ(json, "[-9223372036854775808,9223372036854775807,0]");
}

TEST(JsonWriterTest, KeysAreEscapedLikeValues) {
    const std::string json = JsonWriter().beginObject().field("we\"ird\nkey", 1).endObject().take();
    EXPECT_EQ(json, R"({"we\"ird\nkey":1})");
    EXPECT_EQ(parseObject(json)->getValue<int>("we\"ird\nkey"), 1);
}

// --- JsonBody ---

// The Error(ValidationFailed) that `action` throws; fails the test if it throws nothing or something else.
std::optional<Error> validationFailureOf(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ErrorCode::ValidationFailed) << error.what();
        return error;
    } catch (const std::exception& error) {
        ADD_FAILURE() << "not a validation failure: " << error.what();
        return std::nullopt;
    }
    ADD_FAILURE() << "nothing was refused";
    return std::nullopt;
}

TEST(JsonBodyTest, EmptyBodyIsAnEmptyObjectOnlyWhereAllowed) {
    const JsonBody empty = JsonBody::parse(" \r\n\t", true);
    EXPECT_FALSE(empty.has("name"));
    EXPECT_EQ(empty.optionalString("name"), std::nullopt);
    const auto refusal = validationFailureOf([] { JsonBody::parse(""); });
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->field(), "body");
}

TEST(JsonBodyTest, AnythingButOneJsonObjectIsRefusedAsTheBody) {
    for (const std::string body :
         {"not json", "{\"a\":", "[1,2]", "\"text\"", "42", "null", "{\"a\":1} trailing", "{'a':1}"}) {
        SCOPED_TRACE(body);
        const auto refusal = validationFailureOf([&] { JsonBody::parse(body); });
        ASSERT_TRUE(refusal);
        EXPECT_EQ(refusal->field(), "body");
    }
}

TEST(JsonBodyTest, WellTypedFieldsAreRead) {
    const JsonBody body = JsonBody::parse(
        R"({"name":"Zo\u00eb \"Z\"","active":false,"limit":-7,"big":9223372036854775807,"gone":null,"label":"x"})");
    EXPECT_EQ(body.requiredString("name"), "Zo\xC3\xAB \"Z\"");
    EXPECT_EQ(body.optionalBool("active"), false);
    EXPECT_EQ(body.optionalInteger("limit"), -7);
    EXPECT_EQ(body.optionalInteger("big"), std::numeric_limits<std::int64_t>::max());
    EXPECT_TRUE(body.has("gone"));
    EXPECT_TRUE(body.isNull("gone"));
    EXPECT_FALSE(body.isNull("missing"));
    EXPECT_EQ(body.optionalString("gone"), std::nullopt);
    EXPECT_EQ(body.optionalBool("missing"), std::nullopt);
    EXPECT_EQ(body.optionalInteger("gone"), std::nullopt);
}

TEST(JsonBodyTest, NullableStringTellsAbsentFromNullFromText) {
    const JsonBody body = JsonBody::parse(R"({"cleared":null,"set":"005xx000001SvYb"})");
    EXPECT_EQ(body.nullableString("missing"), std::nullopt);
    EXPECT_EQ(body.nullableString("cleared"), std::optional<std::optional<std::string>>(std::optional<std::string>()));
    EXPECT_EQ(body.nullableString("set"), std::optional<std::optional<std::string>>("005xx000001SvYb"));
}

struct MistypedField {
    std::string body;
    std::string field;
    std::function<void(const JsonBody&)> read;
};

void PrintTo(const MistypedField& mistyped, std::ostream* out) { *out << mistyped.body; }

class JsonBodyMistypedFieldTest : public ::testing::TestWithParam<MistypedField> {};

TEST_P(JsonBodyMistypedFieldTest, IsRefusedNamingTheField) {
    const auto& mistyped = GetParam();
    const JsonBody body = JsonBody::parse(mistyped.body);
    const auto refusal = validationFailureOf([&] { mistyped.read(body); });
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->field(), mistyped.field);
    EXPECT_NE(std::string(refusal->what()).find(mistyped.field), std::string::npos) << refusal->what();
}

INSTANTIATE_TEST_SUITE_P(
    JsonBody, JsonBodyMistypedFieldTest,
    ::testing::Values(MistypedField{R"({})", "email", [](const JsonBody& b) { b.requiredString("email"); }},
                      MistypedField{R"({"email":null})", "email", [](const JsonBody& b) { b.requiredString("email"); }},
                      MistypedField{R"({"email":42})", "email", [](const JsonBody& b) { b.requiredString("email"); }},
                      MistypedField{R"({"displayName":["Ann"]})", "displayName",
                                    [](const JsonBody& b) { b.optionalString("displayName"); }},
                      MistypedField{R"({"displayName":{"first":"Ann"}})", "displayName",
                                    [](const JsonBody& b) { b.optionalString("displayName"); }},
                      MistypedField{R"({"active":"true"})", "active",
                                    [](const JsonBody& b) { b.optionalBool("active"); }},
                      MistypedField{R"({"active":1})", "active", [](const JsonBody& b) { b.optionalBool("active"); }},
                      MistypedField{R"({"legacyUserId":"77"})", "legacyUserId",
                                    [](const JsonBody& b) { b.optionalInteger("legacyUserId"); }},
                      MistypedField{R"({"legacyUserId":7.5})", "legacyUserId",
                                    [](const JsonBody& b) { b.optionalInteger("legacyUserId"); }},
                      MistypedField{R"({"legacyUserId":true})", "legacyUserId",
                                    [](const JsonBody& b) { b.optionalInteger("legacyUserId"); }},
                      MistypedField{R"({"legacyUserId":18446744073709551615})", "legacyUserId",
                                    [](const JsonBody& b) { b.optionalInteger("legacyUserId"); }},
                      MistypedField{R"({"salesforceUserId":false})", "salesforceUserId",
                                    [](const JsonBody& b) { b.nullableString("salesforceUserId"); }}),
    [](const auto& info) { return info.param.field + "_" + std::to_string(info.index); });

// --- path templates ---

struct PathCase {
    std::string pathTemplate;
    std::string path;
    std::optional<std::map<std::string, std::string>> parameters;  // nullopt: no match
};

void PrintTo(const PathCase& pathCase, std::ostream* out) { *out << pathCase.pathTemplate << " ~ " << pathCase.path; }

class PathTemplateTest : public ::testing::TestWithParam<PathCase> {};

TEST_P(PathTemplateTest, MatchesWholeSegmentsOnly) {
    const auto& pathCase = GetParam();
    std::map<std::string, std::string> parameters{{"stale", "from an earlier match"}};
    const bool matched = matchPathTemplate(pathCase.pathTemplate, pathCase.path, parameters);
    ASSERT_EQ(matched, pathCase.parameters.has_value());
    if (matched) {
        EXPECT_EQ(parameters, *pathCase.parameters);
    }
}

using Parameters = std::map<std::string, std::string>;

INSTANTIATE_TEST_SUITE_P(
    Routes, PathTemplateTest,
    ::testing::Values(
        PathCase{"/healthz", "/healthz", Parameters{}},
        PathCase{"/legacy/api/organizations/{orgId}", "/legacy/api/organizations/1042", Parameters{{"orgId", "1042"}}},
        PathCase{"/legacy/api/organizations/{orgId}/users/{userId}", "/legacy/api/organizations/1042/users/77",
                 Parameters{{"orgId", "1042"}, {"userId", "77"}}},
        PathCase{"/api/v2/profiles/{profileId}/connectivity/crm/login",
                 "/api/v2/profiles/prf_Zo%C3%AB-1/connectivity/crm/login", Parameters{{"profileId", "prf_Zo%C3%AB-1"}}},
        // trailing slashes are another path
        PathCase{"/healthz", "/healthz/", std::nullopt},
        PathCase{"/legacy/api/organizations", "/legacy/api/organizations/", std::nullopt},
        PathCase{"/legacy/api/organizations/{orgId}", "/legacy/api/organizations/1042/", std::nullopt},
        PathCase{"/legacy/api/organizations/{orgId}/", "/legacy/api/organizations/1042", std::nullopt},
        // a parameter never spans a '/' and is never empty
        PathCase{"/legacy/api/organizations/{orgId}", "/legacy/api/organizations/1042/users", std::nullopt},
        PathCase{"/legacy/api/organizations/{orgId}/users", "/legacy/api/organizations/10/42/users", std::nullopt},
        PathCase{"/legacy/api/organizations/{orgId}/users", "/legacy/api/organizations//users", std::nullopt},
        PathCase{"/legacy/api/organizations/{orgId}", "/legacy/api/organizations/", std::nullopt},
        // literal parts match exactly and completely
        PathCase{"/legacy/api/organizations/{orgId}/users", "/legacy/api/organizations/1042", std::nullopt},
        PathCase{"/healthz", "/healthzz", std::nullopt}, PathCase{"/healthzz", "/healthz", std::nullopt},
        PathCase{"/healthz", "/HEALTHZ", std::nullopt}, PathCase{"/metrics", "", std::nullopt}),
    [](const auto& info) { return "case_" + std::to_string(info.index); });

// --- Prometheus rendering ---

// Sample lines of a Prometheus text exposition, series (name with labels) -> value; fails on a malformed line or a
// sample whose metric family has no preceding TYPE line.
std::map<std::string, double> samplesOf(const std::string& exposition) {
    static const std::regex typeLine(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|histogram))");
    static const std::string label = R"([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")";
    // groups: 1 the metric name, 5 the value
    static const std::regex sampleLine(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{()" + label + "(," + label +
                                       R"()*)?\})? ([0-9.e+-]+|\+Inf))");
    std::map<std::string, double> samples;
    std::string family;
    std::istringstream lines(exposition);
    for (std::string line; std::getline(lines, line);) {
        std::smatch match;
        if (std::regex_match(line, match, typeLine)) {
            family = match[1];
        } else if (std::regex_match(line, match, sampleLine)) {
            EXPECT_EQ(match[1].str().rfind(family, 0), 0u) << "sample without its TYPE line: " << line;
            samples[line.substr(0, line.rfind(' '))] = std::stod(match[5]);
        } else {
            ADD_FAILURE() << "not a Prometheus text line: " << line;
        }
    }
    return samples;
}

TEST(MetricsTest, CountersRenderWithTypeLabelsAndValue) {
    Metrics metrics;
    metrics.counter("bridge_requests_total", R"(family="legacy",status="200")").increment();
    metrics.counter("bridge_requests_total", R"(family="legacy",status="200")").increment(2);
    metrics.counter("bridge_requests_total", R"(family="modern",status="404")").increment();
    const std::string rendered = metrics.render();
    EXPECT_NE(rendered.find("# TYPE bridge_requests_total counter\n"), std::string::npos) << rendered;
    const auto samples = samplesOf(rendered);
    EXPECT_EQ(samples, (std::map<std::string, double>{
                           {R"(bridge_requests_total{family="legacy",status="200"})", 3},
                           {R"(bridge_requests_total{family="modern",status="404"})", 1},
                       }));
}

TEST(MetricsTest, OneSeriesPerNameAndLabels) {
    Metrics metrics;
    EXPECT_EQ(&metrics.counter("c_total", R"(a="1")"), &metrics.counter("c_total", R"(a="1")"));
    EXPECT_NE(&metrics.counter("c_total", R"(a="1")"), &metrics.counter("c_total", R"(a="2")"));
    EXPECT_EQ(&metrics.histogram("h_seconds", ""), &metrics.histogram("h_seconds", ""));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInclusiveBounds) {
    Metrics metrics;
    auto& latency = metrics.histogram("bridge_request_seconds", R"(family="legacy")");
    for (const double seconds : {0.0004, 0.001, 0.3, 3.0}) latency.observe(seconds);
    const auto samples = samplesOf(metrics.render());
    const std::string series = R"(bridge_request_seconds_bucket{family="legacy",le=")";
    EXPECT_EQ(samples.at(series + R"(0.0005"})"), 1);
    EXPECT_EQ(samples.at(series + R"(0.001"})"), 2);
    EXPECT_EQ(samples.at(series + R"(0.1"})"), 2);
    EXPECT_EQ(samples.at(series + R"(0.5"})"), 3);
    EXPECT_EQ(samples.at(series + R"(2.5"})"), 3);
    EXPECT_EQ(samples.at(series + R"(+Inf"})"), 4);
    EXPECT_EQ(samples.at(R"(bridge_request_seconds_count{family="legacy"})"), 4);
    EXPECT_NEAR(samples.at(R"(bridge_request_seconds_sum{family="legacy"})"), 3.3014, 1e-6);
    EXPECT_EQ(samples.size(), Metrics::Histogram::kBucketsSeconds.size() + 3);
}

TEST(MetricsTest, HistogramWithoutLabelsHasOnlyTheBucketLabel) {
    Metrics metrics;
    metrics.histogram("store_seconds", "").observe(0.002);
    const auto samples = samplesOf(metrics.render());
    EXPECT_EQ(samples.at(R"(store_seconds_bucket{le="0.0025"})"), 1);
    EXPECT_EQ(samples.at(R"(store_seconds_bucket{le="+Inf"})"), 1);
    EXPECT_EQ(samples.at("store_seconds_count{}"), 1);
}

TEST(MetricsTest, HistogramSumKeepsMicrosecondsOfALongRunningServer) {
    Metrics metrics;
    auto& latency = metrics.histogram("bridge_request_seconds", "");
    for (int i = 0; i < 1000; ++i) latency.observe(1234.567891);
    EXPECT_NEAR(samplesOf(metrics.render()).at("bridge_request_seconds_sum{}"), 1234567.891, 1e-6);
}

// --- log lines ---

class LogFormatTest : public ::testing::Test {
protected:
    void SetUp() override {
        logger_ = logger("plumbing-test");
        logger_->sinks() = {std::make_shared<spdlog::sinks::ostream_sink_mt>(captured_)};
    }
    void TearDown() override {
        logger_->sinks().clear();
        configureLogging(LogConfig{});
    }

    std::vector<std::string> capturedLines() const {
        std::vector<std::string> lines;
        std::istringstream stream(captured_.str());
        for (std::string line; std::getline(stream, line);) lines.push_back(line);
        return lines;
    }

    std::shared_ptr<spdlog::logger> logger_;
    std::ostringstream captured_;
};

TEST_F(LogFormatTest, JsonLineIsOneValidObjectWhateverTheMessageHolds) {
    constexpr char kControlCharacters[] = "control \x01\x08\x0c\x1f and nul \0 bytes";
    configureLogging({"info", "json"});
    const std::vector<std::string> messages{
        "plain",
        R"(quoted "name" and a \ backslash)",
        "two\nlines\r\nand a\ttab",
        std::string(kControlCharacters, sizeof kControlCharacters - 1),
        "Globex \xE2\x9C\xA8 \"R&D\" \xE6\x9D\xB1\xE4\xBA\xAC",
        R"(looks like JSON: {"message":"forged"})",
    };
    for (const auto& message : messages) logger_->info("org {} said: {}", 1042, message);

    const auto lines = capturedLines();
    ASSERT_EQ(lines.size(), messages.size()) << captured_.str();
    for (std::size_t i = 0; i < lines.size(); ++i) {
        SCOPED_TRACE(lines[i]);
        Poco::JSON::Object::Ptr object;
        ASSERT_NO_THROW(object = parseObject(lines[i]));
        EXPECT_EQ(object->getValue<std::string>("message"), "org 1042 said: " + messages[i]);
        EXPECT_EQ(object->getValue<std::string>("level"), "info");
        EXPECT_EQ(object->getValue<std::string>("logger"), "plumbing-test");
        EXPECT_TRUE(std::regex_match(object->getValue<std::string>("time"),
                                     std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
        EXPECT_EQ(object->size(), 4u);
    }
}

TEST_F(LogFormatTest, TextLineHasTimeLevelLoggerAndMessage) {
    configureLogging({"info", "text"});
    logger_->warn("store slow: {} ms", 250);
    const auto lines = capturedLines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(std::regex_match(
        lines[0], std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warning \[plumbing-test\] store slow: 250 ms)")))
        << lines[0];
}

// What a client or Salesforce sent (a method, an error_description, a database's message) cannot start a forged
// line of its own in the text format either: control characters are escaped as the JSON format escapes them.
TEST_F(LogFormatTest, TextLineEscapesControlCharactersSoNoMessageForgesALine) {
    configureLogging({"info", "text"});
    const std::string forged = "GET\n2026-01-01T00:00:00.000Z info  [http] admin logged in";
    logger_->info("{} /healthz 200", forged);
    logger_->info("salesforce said: {}", std::string("bad\r\ngrant\t\x01\x1b[31m\x7f \\n \"quoted\""));
    const auto lines = capturedLines();
    ASSERT_EQ(lines.size(), 2u) << captured_.str();
    EXPECT_NE(lines[0].find("] GET\\n2026-01-01T00:00:00.000Z info  [http] admin logged in /healthz 200"),
              std::string::npos)
        << lines[0];
    EXPECT_NE(lines[1].find(R"(salesforce said: bad\r\ngrant\t\u0001\u001b[31m\u007f \\n "quoted")"), std::string::npos)
        << lines[1];
    for (const auto& line : lines) {
        for (const char c : line) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << line;
    }
}

TEST_F(LogFormatTest, LevelDropsLessSevereLinesOfEveryLogger) {
    configureLogging({"warn", "json"});
    logger_->info("dropped");
    logger_->error("kept");
    const auto lines = capturedLines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(parseObject(lines[0])->getValue<std::string>("message"), "kept");
    EXPECT_EQ(parseObject(lines[0])->getValue<std::string>("level"), "error");
    EXPECT_EQ(logger("plumbing-test-created-later")->level(), spdlog::level::warn);
}

}  // namespace
}  // namespace bridge
