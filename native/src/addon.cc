// N-API surface of the native helpers: batch hashing (speed reference and cross-check for the
// TypeScript models), gratuitous ARP over AF_PACKET, and nft scripts run through libnftables.
#include <napi.h>
#include <cstdlib>
#include <string>
#include "garp.h"
#include "hash.h"
#include "nftables.h"

namespace {

Napi::Value Fail(const Napi::Env &env, const char *msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

// bucketsV4(mechanism, fields, seed, buckets, saddr: Uint32Array, sport: Uint16Array, dport: Uint16Array, out: Uint32Array)
Napi::Value BucketsV4(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 8 || !info[4].IsTypedArray() || !info[5].IsTypedArray() || !info[6].IsTypedArray() || !info[7].IsTypedArray())
    return Fail(env, "bucketsV4(mechanism, fields, seed, buckets, saddr, sport, dport, out)");
  auto saddr = info[4].As<Napi::Uint32Array>();
  auto sport = info[5].As<Napi::Uint16Array>();
  auto dport = info[6].As<Napi::Uint16Array>();
  auto out = info[7].As<Napi::Uint32Array>();
  size_t n = saddr.ElementLength();
  if (sport.ElementLength() < n || dport.ElementLength() < n || out.ElementLength() < n) return Fail(env, "arrays shorter than saddr");
  aavip_buckets_v4(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(),
                   info[2].As<Napi::Number>().Uint32Value(), info[3].As<Napi::Number>().Uint32Value(), saddr.Data(),
                   sport.Data(), dport.Data(), out.Data(), n);
  return env.Undefined();
}

// jhash(bytes: Uint8Array, seed) → u32
Napi::Value Jhash(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsTypedArray()) return Fail(env, "jhash(bytes, seed)");
  auto bytes = info[0].As<Napi::Uint8Array>();
  return Napi::Number::New(env, aavip_jhash(bytes.Data(), bytes.ElementLength(), info[1].As<Napi::Number>().Uint32Value()));
}

// sendGratuitousArp(ifname, ip: Uint8Array(4), mac: Uint8Array(6), count)
Napi::Value SendGratuitousArp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 || !info[0].IsString() || !info[1].IsTypedArray() || !info[2].IsTypedArray())
    return Fail(env, "sendGratuitousArp(ifname, ip, mac, count)");
  auto ip = info[1].As<Napi::Uint8Array>();
  auto mac = info[2].As<Napi::Uint8Array>();
  if (ip.ElementLength() != 4 || mac.ElementLength() != 6) return Fail(env, "ip must be 4 bytes and mac 6 bytes");
  char err[256] = "";
  std::string ifname = info[0].As<Napi::String>().Utf8Value();
  if (aavip_send_garp(ifname.c_str(), ip.Data(), mac.Data(), info[3].As<Napi::Number>().Int32Value(), err, sizeof err) != 0) {
    Napi::Error::New(env, err).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// Runs the script on the libuv thread pool, so the event loop (heartbeats) never waits on the
// kernel. A query resolves with nft's JSON output; a plain run with undefined.
class NftRunWorker : public Napi::AsyncWorker {
 public:
  NftRunWorker(Napi::Env env, std::string script, bool query)
      : Napi::AsyncWorker(env), script_(std::move(script)), query_(query), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    char *out = nullptr;
    rc_ = aavip_nft_run(script_.c_str(), query_ ? &out : nullptr, err_, sizeof err_);
    if (out) {
      out_ = out;
      free(out);
    }
  }
  void OnOK() override {
    if (rc_ != 0) deferred_.Reject(Napi::Error::New(Env(), err_).Value());
    else if (query_) deferred_.Resolve(Napi::String::New(Env(), out_));
    else deferred_.Resolve(Env().Undefined());
  }

 private:
  std::string script_;
  bool query_;
  std::string out_;
  Napi::Promise::Deferred deferred_;
  int rc_ = -1;
  char err_[1024] = "";
};

Napi::Value QueueNft(const Napi::CallbackInfo &info, bool query) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) return Fail(env, query ? "nftQuery(command)" : "nftRun(script)");
  auto *worker = new NftRunWorker(env, info[0].As<Napi::String>().Utf8Value(), query);
  auto promise = worker->Promise();
  worker->Queue();
  return promise;
}

// nftRun(script) → Promise<void>, rejected with nft's message
Napi::Value NftRun(const Napi::CallbackInfo &info) { return QueueNft(info, false); }
// nftQuery(command) → Promise<string>: what `nft -j` prints for it
Napi::Value NftQuery(const Napi::CallbackInfo &info) { return QueueNft(info, true); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("bucketsV4", Napi::Function::New(env, BucketsV4));
  exports.Set("jhash", Napi::Function::New(env, Jhash));
  exports.Set("sendGratuitousArp", Napi::Function::New(env, SendGratuitousArp));
  exports.Set("nftRun", Napi::Function::New(env, NftRun));
  exports.Set("nftQuery", Napi::Function::New(env, NftQuery));
  return exports;
}

}  // namespace

NODE_API_MODULE(aavip_native, Init)
