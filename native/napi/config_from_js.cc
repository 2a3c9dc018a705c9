// JS objects -> EngineOptions and PeerConfig (declared in js_values.h). Every value is checked
// here, before the data plane sees it: JS is trusted for intent, not for ranges.
#include <arpa/inet.h>

#include <algorithm>
#include <array>

#include "napi/js_values.h"

namespace halfsec {
namespace {

bool Fail(std::string* error, const char* msg) {
  *error = msg;
  return false;
}

std::string GetString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

int64_t GetInt(const Napi::Object& o, const char* key, int64_t dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : dflt;
}

// Reads [[a, b], ...] pairs of small integers into a 128-entry table.
bool ReadPtTable(const Napi::Object& o, const char* key, std::array<uint8_t, 128>* table) {
  table->fill(0xff);
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (!v.IsArray()) return false;
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsArray()) return false;
    Napi::Array pair = e.As<Napi::Array>();
    if (pair.Length() != 2 || !pair.Get(0u).IsNumber() || !pair.Get(1u).IsNumber()) return false;
    const int64_t a = pair.Get(0u).As<Napi::Number>().Int64Value();
    const int64_t b = pair.Get(1u).As<Napi::Number>().Int64Value();
    if (a < 0 || a > 127 || b < 0 || b > 127) return false;
    (*table)[a] = static_cast<uint8_t>(b);
  }
  return true;
}

}  // namespace

bool ReadEngineOptions(const Napi::Object& o, EngineOptions* opts, std::string* error) {
  opts->workers = static_cast<int>(GetInt(o, "workers", 0));
  const std::string bind = GetString(o, "bindAddress");
  if (!bind.empty()) opts->bind_ip = bind;
  const int64_t base = GetInt(o, "portBase", 40000), count = GetInt(o, "portCount", 100);
  if (base < 1 || base > 65535 || count < 1 || base + count > 65536) {
    *error = "portBase/portCount out of range";
    return false;
  }
  opts->keyframe_cache_max_age_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "keyframeCacheMaxAgeMs", 1000), 0, 60000));
  { const Napi::Value g = o.Get("udpGso"); opts->udp_gso = !g.IsBoolean() || g.As<Napi::Boolean>().Value(); }
  opts->fanout_coalesce_us = static_cast<int>(std::clamp<int64_t>(GetInt(o, "fanoutCoalesceUs", 0), 0, 50000));
  { const Napi::Value g = o.Get("pinWorkers"); opts->pin_workers = g.IsBoolean() && g.As<Napi::Boolean>().Value(); }
  opts->worker_realtime_priority = static_cast<int>(std::clamp<int64_t>(GetInt(o, "workerRealtimePriority", 0), 0, 99));
  opts->connect_timeout_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "connectTimeoutMs", 10000), 500, 120000));
  opts->consent_timeout_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "consentTimeoutMs", 30000), 1000, 300000));
  opts->media_timeout_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "publisherMediaTimeoutMs", 2000), 0, 300000));
  // ICE-TCP: tcpPort -1 (default) takes the first free port of the range, 0 turns it off.
  const int64_t tcp_port = GetInt(o, "tcpPort", -1);
  if (tcp_port < -1 || tcp_port > 65535) {
    *error = "tcpPort out of range";
    return false;
  }
  opts->tcp_port = static_cast<int>(tcp_port);
  opts->tcp_max_per_address = static_cast<int>(std::clamp<int64_t>(GetInt(o, "tcpMaxPerAddress", 16), 1, 1 << 20));
  opts->tcp_max_per_worker = static_cast<int>(std::clamp<int64_t>(GetInt(o, "tcpMaxPerWorker", 2000), 1, 1 << 20));
  opts->tcp_send_queue_bytes = static_cast<int>(std::clamp<int64_t>(GetInt(o, "tcpSendQueueBytes", 256 * 1024), 16 * 1024, 64 << 20));
  opts->port_base = static_cast<uint16_t>(base);
  opts->port_count = static_cast<uint16_t>(count);
  return true;
}

bool ReadPeerConfig(const Napi::Object& o, Engine& engine, PeerConfig* cfg, std::string* error) {
  const std::string role = GetString(o, "role");
  if (role == "publisher") {
    cfg->role = PeerRole::kPublisher;
  } else if (role == "viewer") {
    cfg->role = PeerRole::kViewer;
  } else if (role == "pull") {
    // Feeds the stream like a publisher; the transport is the client side of another relay.
    cfg->role = PeerRole::kPublisher;
    cfg->pull = true;
    cfg->remote_pwd = GetString(o, "remotePwd");
    const std::string ip = GetString(o, "remoteIp");
    const int64_t port = GetInt(o, "remotePort", 0);
    if (cfg->remote_pwd.size() < 22 || cfg->remote_pwd.size() > 256 || port < 1 || port > 65535) {
      return Fail(error, "pull: remotePwd (22-256 chars) and remotePort (1-65535) are required");
    }
    auto* s4 = reinterpret_cast<sockaddr_in*>(&cfg->remote_addr);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&cfg->remote_addr);
    if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) == 1) {
      s4->sin_family = AF_INET;
      s4->sin_port = htons(static_cast<uint16_t>(port));
    } else if (inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr) == 1) {
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(static_cast<uint16_t>(port));
    } else {
      return Fail(error, "pull: remoteIp must be an IP address");
    }
  } else if (role == "ingest") {
    // Feeds the stream like a publisher from one of the relay's own FFmpeg children: plain
    // RTP on a local AF_UNIX socket, no ICE/DTLS/SRTP (PeerConfig::ingest).
    cfg->role = PeerRole::kPublisher;
    cfg->ingest = true;
    cfg->ingest_path = GetString(o, "ingestPath");
    const int64_t a = GetInt(o, "ingestAudioSsrc", 0), v = GetInt(o, "ingestVideoSsrc", 0);
    if (cfg->ingest_path.empty() || a < 0 || a > 0xffffffffLL || v < 0 || v > 0xffffffffLL || (a == 0 && v == 0)) {
      return Fail(error, "ingest: ingestPath and at least one of ingestAudioSsrc/ingestVideoSsrc (1..2^32-1) are required");
    }
    cfg->ingest_ssrc[kAudio] = static_cast<uint32_t>(a);
    cfg->ingest_ssrc[kVideo] = static_cast<uint32_t>(v);
  } else {
    return Fail(error, "role must be 'publisher', 'viewer', 'pull' or 'ingest'");
  }
  cfg->stream = engine.FindStream(static_cast<uint32_t>(GetInt(o, "streamId", 0)));
  if (!cfg->stream) return Fail(error, "unknown streamId");
  cfg->local_ufrag = GetString(o, "localUfrag");
  cfg->local_pwd = GetString(o, "localPwd");
  cfg->remote_ufrag = GetString(o, "remoteUfrag");
  cfg->fingerprint_algorithm = GetString(o, "fingerprintAlgorithm");
  cfg->fingerprint = GetString(o, "fingerprint");
  if (cfg->ingest) {
    // No ICE or DTLS: a name for logs only, never registered as a ufrag.
    cfg->local_ufrag = "ingest";
  } else if (cfg->local_ufrag.size() < 4 || cfg->local_ufrag.size() > 256 || cfg->remote_ufrag.size() > 256 || cfg->local_pwd.size() < 22 || cfg->fingerprint.empty() ||
      cfg->fingerprint_algorithm.empty()) {
    return Fail(error, "localUfrag (>= 4 chars), localPwd (>= 22 chars) and the remote fingerprint are required");
  }
  if (!ReadPtTable(o, "kindByPt", &cfg->kind_by_pt) || !ReadPtTable(o, "outPtByPt", &cfg->out_pt_by_pt)) {
    return Fail(error, "kindByPt/outPtByPt must be arrays of [payloadType, value] pairs (0..127)");
  }
  std::array<uint8_t, 128> codecs;
  if (!ReadPtTable(o, "codecByPt", &codecs)) return Fail(error, "codecByPt must be an array of [payloadType, codecId] pairs");
  for (size_t i = 0; i < codecs.size(); i++) {
    cfg->codec_by_pt[i] = codecs[i] <= static_cast<uint8_t>(Codec::kOpus) ? static_cast<Codec>(codecs[i]) : Codec::kUnknown;
  }
  if (!ReadPtTable(o, "rtxApt", &cfg->rtx_apt)) return Fail(error, "rtxApt must be an array of [rtxPt, mediaPt] pairs");
  if (!ReadPtTable(o, "streamPtByPt", &cfg->stream_pt_by_pt)) return Fail(error, "streamPtByPt must be an array of [publisherPt, streamPt] pairs");
  const int64_t rid_ext = GetInt(o, "ridExtId", 0), rrid_ext = GetInt(o, "repairedRidExtId", 0);
  if (rid_ext < 0 || rid_ext > 255 || rrid_ext < 0 || rrid_ext > 255) return Fail(error, "extension ids must be 0..255");
  cfg->rid_ext_id = static_cast<uint8_t>(rid_ext);
  cfg->repaired_rid_ext_id = static_cast<uint8_t>(rrid_ext);
  const int64_t tcc_ext = GetInt(o, "transportCcExtId", 0);
  if (tcc_ext < 0 || tcc_ext > 255) return Fail(error, "transportCcExtId must be 0..255");
  cfg->transport_cc_ext_id = static_cast<uint8_t>(tcc_ext);
  const int64_t dd_ext = GetInt(o, "ddExtId", 0);
  if (dd_ext < 0 || dd_ext > 255) return Fail(error, "ddExtId must be 0..255");
  cfg->dd_ext_id = static_cast<uint8_t>(dd_ext);
  const int64_t remb = GetInt(o, "rembBps", 0);
  if (remb < 0 || remb > 1000000000) return Fail(error, "rembBps must be 0..1e9");
  cfg->remb_bps = static_cast<uint64_t>(remb);
  const int64_t rtx_pt = GetInt(o, "rtxPt", -1);
  if (rtx_pt < -1 || rtx_pt > 127) return Fail(error, "rtxPt must be -1..127");
  cfg->out_rtx_pt = rtx_pt < 0 ? kNoPt : static_cast<uint8_t>(rtx_pt);
  cfg->out_rtx_ssrc = static_cast<uint32_t>(GetInt(o, "rtxSsrc", 0));
  cfg->feedback_interval_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "feedbackIntervalMs", 1000), 0, 60000));
  // Viewer: transport-wide-cc extension ids (one-byte form, RFC 8285: 1..14; 0 or absent: off).
  const int64_t twcc_audio = GetInt(o, "audioTwccExtId", 0), twcc_video = GetInt(o, "videoTwccExtId", 0);
  if (twcc_audio < 0 || twcc_audio > 14 || twcc_video < 0 || twcc_video > 14) return Fail(error, "audioTwccExtId/videoTwccExtId must be 0..14");
  cfg->twcc_ext_id[kAudio] = static_cast<uint8_t>(twcc_audio);
  cfg->twcc_ext_id[kVideo] = static_cast<uint8_t>(twcc_video);
  const int64_t audio_clock = GetInt(o, "audioClockRate", 48000);
  if (audio_clock < 8000 || audio_clock > 192000) return Fail(error, "audioClockRate out of range");
  cfg->clock_rate[kAudio] = static_cast<uint32_t>(audio_clock);
  Napi::Value rids = o.Get("rids");
  if (rids.IsArray()) {
    Napi::Array arr = rids.As<Napi::Array>();
    if (arr.Length() > 4) return Fail(error, "at most 4 simulcast rids");
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value r = arr.Get(i);
      if (!r.IsString()) return Fail(error, "rids must be strings");
      std::string rid = r.As<Napi::String>().Utf8Value();
      if (rid.empty() || rid.size() > 16) return Fail(error, "a rid must be 1-16 characters");
      cfg->rids.push_back(std::move(rid));
    }
  }
  // layerSsrcs: a viewer sends each video layer on its own SSRC (a layered pull served here);
  // a pull receives each layer (named by `rids`) on these SSRCs. See PeerConfig::layer_ssrcs.
  Napi::Value layer_ssrcs = o.Get("layerSsrcs");
  if (layer_ssrcs.IsArray()) {
    Napi::Array arr = layer_ssrcs.As<Napi::Array>();
    if (arr.Length() < 2 || arr.Length() > static_cast<uint32_t>(kMaxLayers)) return Fail(error, "layerSsrcs: 2-4 SSRCs");
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v = arr.Get(i);
      const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 1 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) return Fail(error, "layerSsrcs must be SSRCs (1..2^32-1)");
      cfg->layer_ssrcs.push_back(static_cast<uint32_t>(d));
    }
    if (cfg->role == PeerRole::kPublisher && (!cfg->pull || cfg->rids.size() != cfg->layer_ssrcs.size())) {
      return Fail(error, "layerSsrcs on a pull needs one rid per SSRC");
    }
  }
  cfg->out_ssrc[kAudio] = static_cast<uint32_t>(GetInt(o, "audioSsrc", 0));
  cfg->out_ssrc[kVideo] = static_cast<uint32_t>(GetInt(o, "videoSsrc", 0));
  cfg->rtcp_ssrc = static_cast<uint32_t>(GetInt(o, "rtcpSsrc", 1));
  // RFC 5506: the SDP side passes rtcpRsize when it answered a=rtcp-rsize; otherwise every RTCP
  // datagram toward the peer is compound. cname: the peer's SDES CNAME (default: random).
  cfg->rtcp_rsize = o.Has("rtcpRsize") && o.Get("rtcpRsize").ToBoolean().Value();
  cfg->cname = GetString(o, "cname");
  if (cfg->cname.size() > 255) return Fail(error, "cname must be at most 255 bytes");
  // RFC 8842 §5: a peer that offered a=setup:passive is the DTLS server; the relay answers
  // active and starts the handshake once the peer's first valid check gave it an address.
  cfg->dtls_client = cfg->pull || (o.Has("dtlsClient") && o.Get("dtlsClient").ToBoolean().Value());
  return true;
}

}  // namespace halfsec
