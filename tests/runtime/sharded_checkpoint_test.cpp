// Sharded checkpoints: an index over several files reads as one model, or fails clearly.
#include "runtime/sharded_checkpoint.h"

#include <doctest/doctest.h>

#include "runtime/safetensors_writer.h"
#include "test_support.h"

namespace rt = kmr::runtime;

namespace {

struct Shards {
  rt::testing::TempDir dir;
  std::string w1 = std::string(16, '\x01');
  std::string w2 = std::string(8, '\x02');
  std::string w3 = std::string(4, '\x03');

  Shards() {
    auto view = [](const std::string& s) {
      return rt::ByteView{reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
    };
    REQUIRE(rt::write_safetensors(
                dir.file("model-00001-of-00002.safetensors"),
                {{"fc1.weight", rt::DType::F32, {2, 2}, view(w1)}, {"fc1.bias", rt::DType::F32, {2}, view(w2)}}, {})
                .ok());
    REQUIRE(rt::write_safetensors(
                dir.file("model-00002-of-00002.safetensors"),
                {{"fc2.weight", rt::DType::F32, {1, 2}, view(w2)}, {"fc2.bias", rt::DType::F32, {1}, view(w3)}}, {})
                .ok());
  }

  std::string index(const std::string& json) {
    const std::string path = dir.file("model.safetensors.index.json");
    rt::testing::write_file(path, json);
    return path;
  }

  std::string error_for(const std::string& json) {
    const std::string path = index(json);
    kmr::Expected<rt::ShardedCheckpoint> ckpt = rt::ShardedCheckpoint::open(path);
    REQUIRE_FALSE(ckpt.ok());
    CHECK(ckpt.error().message.rfind(path + ":", 0) == 0);
    return ckpt.error().message;
  }
};

const char* kGoodMap = R"("fc1.weight": "model-00001-of-00002.safetensors",
    "fc1.bias": "model-00001-of-00002.safetensors",
    "fc2.weight": "model-00002-of-00002.safetensors",
    "fc2.bias": "model-00002-of-00002.safetensors")";

}  // namespace

TEST_SUITE("sharded_checkpoint") {
  TEST_CASE("a valid index loads every shard as one model") {
    Shards s;
    const std::string path =
        s.index(std::string(R"({"metadata": {"total_size": 36}, "weight_map": {)") + kGoodMap + "}}");
    kmr::Expected<rt::ShardedCheckpoint> ckpt = rt::ShardedCheckpoint::open(path);
    REQUIRE_MESSAGE(ckpt.ok(), (ckpt.ok() ? "" : ckpt.error().message));
    CHECK(ckpt->shards().size() == 2);
    CHECK(ckpt->tensors().size() == 4);
    CHECK(ckpt->metadata().at("total_size") == "36");
    const rt::TensorInfo* w = ckpt->find("fc2.weight");
    REQUIRE(w != nullptr);
    CHECK(ckpt->shard_of(*w)->path() == s.dir.file("model-00002-of-00002.safetensors"));
    kmr::Expected<rt::ByteView> bytes = ckpt->bytes(*w);
    REQUIRE(bytes.ok());
    CHECK(std::string(reinterpret_cast<const char*>(bytes->data), bytes->size) == s.w2);
    CHECK(ckpt->to_f32(*ckpt->find("fc1.bias")).ok());
    CHECK(ckpt->find("fc3.weight") == nullptr);
  }

  TEST_CASE("a missing shard is an error naming the shard") {
    Shards s;
    const std::string message = s.error_for(std::string(R"({"weight_map": {)") + kGoodMap +
                                            R"(, "fc3.weight": "model-00003-of-00003.safetensors"}})");
    CHECK(message.find("shard \"model-00003-of-00003.safetensors\"") != std::string::npos);
    CHECK(message.find("cannot open") != std::string::npos);
  }

  TEST_CASE("a tensor listed twice in weight_map is an error") {
    Shards s;
    const std::string message = s.error_for(std::string(R"({"weight_map": {)") + kGoodMap +
                                            R"(, "fc1.weight": "model-00002-of-00002.safetensors"}})");
    CHECK(message.find("duplicate key \"fc1.weight\" in \"weight_map\"") != std::string::npos);
  }

  TEST_CASE("a tensor held by two shards is an error naming both") {
    Shards s;
    auto view = [](const std::string& x) {
      return rt::ByteView{reinterpret_cast<const std::uint8_t*>(x.data()), x.size()};
    };
    REQUIRE(rt::write_safetensors(s.dir.file("extra.safetensors"), {{"fc1.bias", rt::DType::F32, {2}, view(s.w2)}}, {})
                .ok());
    const std::string message =
        s.error_for(std::string(R"({"weight_map": {)") + kGoodMap + R"(, "other": "extra.safetensors"}})");
    CHECK(message.find("tensor 'fc1.bias' is listed twice") != std::string::npos);
    CHECK(message.find("extra.safetensors") != std::string::npos);
  }

  TEST_CASE("the map and the shards must agree") {
    Shards s;
    CHECK(s.error_for(R"({"weight_map": {"fc1.weight": "model-00001-of-00002.safetensors"}})")
              .find("holds tensor 'fc1.bias' that weight_map does not list") != std::string::npos);
    CHECK(s.error_for(std::string(R"({"weight_map": {)") + kGoodMap +
                      R"(, "fc9.weight": "model-00001-of-00002.safetensors"}})")
              .find("tensor 'fc9.weight' is listed for shard") != std::string::npos);
  }

  TEST_CASE("malformed indexes are rejected") {
    Shards s;
    CHECK(s.error_for("{").find("not valid JSON") != std::string::npos);
    CHECK(s.error_for("[]").find("index must be a JSON object") != std::string::npos);
    CHECK(s.error_for(R"({"metadata": {}})").find("missing \"weight_map\"") != std::string::npos);
    CHECK(s.error_for(R"({"weight_map": {"a": 3}})").find("must be a file name") != std::string::npos);
    CHECK(s.error_for(R"({"weight_map": {"a": "../escape.safetensors"}})").find("must be relative") !=
          std::string::npos);
    CHECK(s.error_for(R"({"weight_map": {"a": "/etc/passwd"}})").find("must be relative") != std::string::npos);
    kmr::Expected<rt::ShardedCheckpoint> missing = rt::ShardedCheckpoint::open(s.dir.file("none.json"));
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("none.json: cannot read") != std::string::npos);
  }
}
