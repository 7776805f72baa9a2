/* CourtCast "Broadcast from this browser": camera and microphone to the hearing over WHIP.
 *
 * Everything comes from data attributes (strict CSP, no inline script). The page is for the
 * court's signed-in staff and carries the stream key, sent only in the Authorization header. The codec is
 * forced with setCodecPreferences when the page says so (?codec=h264|vp8|vp9); ?video=pattern picks
 * the test pattern with a machine-readable clock. State for automated checks:
 * window.courtcastPublisher = {pc, stream, session, state, codec, bitrate, errors, keeper}.
 */
(function () {
  "use strict";

  var root = document.getElementById("publisher");
  if (!root) {
    return;
  }
  var messages = JSON.parse(document.getElementById("publisher-messages").textContent);
  var form = document.getElementById("publish-form");
  var camera = document.getElementById("camera");
  var microphone = document.getElementById("microphone");
  var quality = document.getElementById("quality");
  var codecSelect = document.getElementById("codec");
  var startButton = document.getElementById("start");
  var stopButton = document.getElementById("stop");
  var preview = document.getElementById("preview");
  var stateLabel = document.getElementById("state");
  var bitrateLabel = document.getElementById("bitrate");
  var message = document.getElementById("publisher-message");

  var PATTERN_FPS = 30;
  var state = {
    pc: null, stream: null, session: null, state: "idle", codec: null, bitrate: 0, errors: [],
    keeper: null,
  };
  window.courtcastPublisher = state;

  function say(text) {
    message.textContent = text || "";
  }

  function show(name) {
    state.state = name;
    stateLabel.textContent = messages[name] || name;
  }

  function fail(kind, detail) {
    state.errors.push({ kind: kind, detail: String(detail), at: Date.now() });
  }

  // -- sources ---------------------------------------------------------------------------------

  function addOption(select, value, label) {
    var option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    select.insertBefore(option, select.lastElementChild);
  }

  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) {
      return;
    }
    var devices = await navigator.mediaDevices.enumerateDevices();
    devices.forEach(function (device, index) {
      if (!device.deviceId || device.deviceId === "default") {
        return;
      }
      var select = device.kind === "videoinput" ? camera
        : device.kind === "audioinput" ? microphone : null;
      if (select && !select.querySelector('option[value="' + CSS.escape(device.deviceId) + '"]')) {
        addOption(select, device.deviceId, device.label || device.kind + " " + (index + 1));
      }
    });
  }

  function patternStream() {
    var canvas = document.createElement("canvas");
    canvas.width = window.CourtcastTimecode.WIDTH;
    canvas.height = window.CourtcastTimecode.HEIGHT;
    var ctx = canvas.getContext("2d");
    var timer = setInterval(function () {
      window.CourtcastTimecode.draw(ctx, Date.now());
    }, 1000 / PATTERN_FPS);
    var stream = canvas.captureStream(PATTERN_FPS);
    stream.getVideoTracks()[0].addEventListener("ended", function () { clearInterval(timer); });
    state.stopPattern = function () { clearInterval(timer); };
    return stream;
  }

  function videoConstraints() {
    var height = Number(quality.value);
    var constraints = { height: { ideal: height }, width: { ideal: Math.round(height * 16 / 9) },
      frameRate: { ideal: 25, max: 30 } };
    if (camera.value) {
      constraints.deviceId = { exact: camera.value };
    }
    return constraints;
  }

  async function openSources() {
    var wantPattern = camera.value === "pattern";
    var video = camera.value === "none" || wantPattern ? false : videoConstraints();
    var audio = microphone.value === "none" ? false
      : (microphone.value ? { deviceId: { exact: microphone.value } } : true);
    var stream = new MediaStream();
    if (video || audio) {
      stream = await navigator.mediaDevices.getUserMedia({ video: video, audio: audio });
    }
    if (wantPattern) {
      stream.addTrack(patternStream().getVideoTracks()[0]);
    }
    listDevices().catch(function () {}); // labels are readable once permission is given
    return stream;
  }

  // -- WHIP ------------------------------------------------------------------------------------

  function preferCodec(transceiver, codec) {
    if (codec === "auto" || !transceiver.setCodecPreferences) {
      return;
    }
    var all = RTCRtpSender.getCapabilities("video").codecs;
    var wanted = all.filter(function (c) {
      if (codec === "vp8") {
        return c.mimeType === "video/VP8";
      }
      if (codec === "vp9") {
        return c.mimeType === "video/VP9";
      }
      return c.mimeType === "video/H264" && /packetization-mode=1/.test(c.sdpFmtpLine || "")
        && /profile-level-id=42/.test(c.sdpFmtpLine || "");
    });
    if (codec === "vp9") {
      // Profile 0 (8-bit 4:2:0; no profile-id means 0) first, so that it is what gets sent.
      var profile0 = function (c) { return !/profile-id=[1-9]/.test(c.sdpFmtpLine || ""); };
      wanted = wanted.filter(profile0).concat(wanted.filter(function (c) { return !profile0(c); }));
    }
    var repair = all.filter(function (c) { return c.mimeType === "video/rtx"; });
    transceiver.setCodecPreferences(wanted.concat(repair));
  }

  function negotiatedCodec(pc) {
    var sdp = pc.remoteDescription ? pc.remoteDescription.sdp : "";
    var video = sdp.split("m=video")[1] || "";
    var match = /a=rtpmap:\d+ ([A-Za-z0-9]+)\//.exec(video);
    return match ? match[1] : null;
  }

  async function start() {
    var stream = await openSources();
    state.stream = stream;
    preview.srcObject = stream;
    await state.keeper.start();
  }

  // One WHIP session for the sources already open; resolves to its peer connection.
  async function connect(key) {
    var stream = state.stream;
    var pc = new RTCPeerConnection({ iceServers: [] });
    state.pc = pc;
    stream.getTracks().forEach(function (track) {
      var transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      if (track.kind === "video") {
        preferCodec(transceiver, codecSelect.value);
        // A court needs a readable picture: lower the frame rate, not the resolution.
        var params = transceiver.sender.getParameters();
        params.degradationPreference = "maintain-resolution";
        transceiver.sender.setParameters(params).catch(function () {});
      }
    });
    state.session = await window.CourtcastWhip.exchange(pc, root.dataset.whipUrl, key,
      messages.refused);
    state.codec = negotiatedCodec(pc);
    show(pc.connectionState);
    return pc;
  }

  function release() {
    if (state.pc) {
      state.pc.close();
    }
    if (state.stream) {
      state.stream.getTracks().forEach(function (track) { track.stop(); });
    }
    if (state.stopPattern) {
      state.stopPattern();
    }
    preview.srcObject = null;
    state.pc = state.stream = state.stopPattern = null;
    startButton.disabled = false;
    stopButton.disabled = true;
  }

  async function stop() {
    var session = state.keeper.stop();
    release();
    show("closed");
    if (session) {
      await window.CourtcastWhip.end(session);
      say(messages.stopped);
    }
  }

  // -- bitrate ---------------------------------------------------------------------------------

  var last = null;
  async function measure() {
    if (!state.pc) {
      last = null;
      return;
    }
    var report = await state.pc.getStats();
    var bytes = 0;
    report.forEach(function (entry) {
      if (entry.type === "outbound-rtp") {
        bytes += entry.bytesSent || 0;
      }
    });
    var now = performance.now();
    if (last) {
      state.bitrate = Math.round((bytes - last.bytes) * 8 / ((now - last.at) / 1000));
      bitrateLabel.textContent = Math.round(state.bitrate / 1000) + " kbit/s";
    }
    last = { bytes: bytes, at: now };
  }
  setInterval(function () { measure().catch(function () {}); }, 1000);

  // -- wiring ----------------------------------------------------------------------------------

  // The camera stays open across reconnections; each makes a new WHIP session, which the
  // hearing continues after a discontinuity.
  state.keeper = new window.CourtcastWhip.Keeper(state, function () {
    return connect(root.dataset.streamKey);
  }, {
    show: show,
    failed: function (err) { fail("reconnect", err); },
    giveUp: function (err) {
      release();
      show("failed");
      say(err.message);
    },
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    say("");
    show("starting");
    startButton.disabled = true;
    stopButton.disabled = false;
    start().catch(function (err) {
      fail("start", err);
      state.keeper.stop();
      release();
      show("failed");
      say(err && err.name === "NotAllowedError" ? messages.noDevices
        : (err && err.message) || messages.network);
    });
  });
  stopButton.addEventListener("click", function () { stop(); });
  window.CourtcastWhip.endOnLeave(state);
  if (new URLSearchParams(location.search).get("video") === "pattern") {
    camera.value = "pattern";
  }
  state.stop = stop;
})();
