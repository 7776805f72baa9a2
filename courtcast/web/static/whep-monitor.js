/* CourtCast monitor (/hearings/{id}/monitor): the live feed over WHEP with sub-second delay,
 * for court staff. The page is signed in: its WHEP request carries the session cookie, no token.
 *
 * With "Measure delay" on and the publisher sending the test pattern, each shown frame's
 * clock blocks are read back through a canvas and compared with this computer's clock.
 * State for automated checks: window.courtcastWhep = {pc, video, state, delays, errors}.
 */
(function () {
  "use strict";

  var root = document.getElementById("whep-monitor");
  if (!root) {
    return;
  }
  var messages = JSON.parse(document.getElementById("whep-messages").textContent);
  var form = document.getElementById("whep-form");
  var watchButton = document.getElementById("watch");
  var stopButton = document.getElementById("stop");
  var measureBox = document.getElementById("measure");
  var video = document.getElementById("video");
  var stateLabel = document.getElementById("state");
  var delayLabel = document.getElementById("delay");
  var message = document.getElementById("whep-message");

  var KEEP_DELAYS = 600;
  var state = { pc: null, video: video, session: null, state: "idle", delays: [], errors: [],
    keeper: null };
  window.courtcastWhep = state;

  function say(text) {
    message.textContent = text || "";
  }

  function show(name) {
    state.state = name;
    stateLabel.textContent = messages[name] || name;
  }

  // -- delay measurement -----------------------------------------------------------------------

  var canvas = document.createElement("canvas");
  canvas.width = window.CourtcastTimecode.WIDTH;
  canvas.height = window.CourtcastTimecode.HEIGHT;
  var ctx = canvas.getContext("2d", { willReadFrequently: true });

  function onFrame() {
    if (measureBox.checked && video.videoWidth) {
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var value = window.CourtcastTimecode.read(ctx);
      if (value !== null) {
        var delay = window.CourtcastTimecode.delay(value, Date.now());
        state.delays.push(delay);
        if (state.delays.length > KEEP_DELAYS) {
          state.delays.shift();
        }
        delayLabel.textContent = delay + " ms";
      }
    }
    video.requestVideoFrameCallback(onFrame);
  }
  if (video.requestVideoFrameCallback) {
    video.requestVideoFrameCallback(onFrame);
  }

  // -- WHEP ------------------------------------------------------------------------------------

  // One WHEP session; resolves to its peer connection. The Keeper makes a new one when the
  // connection is lost (a server restart, the clerk's network), so the monitor comes back.
  async function connect() {
    var pc = new RTCPeerConnection({ iceServers: [] });
    state.pc = pc;
    var stream = new MediaStream();
    pc.addEventListener("track", function (event) {
      // Show frames as soon as they decode: this is a monitor, not a smooth public player.
      if ("jitterBufferTarget" in event.receiver) {
        event.receiver.jitterBufferTarget = 0;
      }
      stream.addTrack(event.track);
      video.srcObject = stream;
      video.play().catch(function () { video.muted = true; video.play(); });
    });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    state.session = await window.CourtcastWhip.exchange(pc, root.dataset.whepUrl, null,
      messages.refused);
    show(pc.connectionState);
    return pc;
  }

  state.keeper = new window.CourtcastWhip.Keeper(state, connect, {
    show: show,
    failed: function (err) {
      state.errors.push({ kind: "reconnect", detail: String(err), at: Date.now() });
    },
    giveUp: function (err) {
      release();
      show("failed");
      say(err.message);
    },
  });

  function release() {
    if (state.pc) {
      state.pc.close();
    }
    state.pc = null;
    video.srcObject = null;
    watchButton.disabled = false;
    stopButton.disabled = true;
  }

  async function stop() {
    var session = state.keeper.stop();
    release();
    show("closed");
    if (session) {
      await window.CourtcastWhip.end(session);
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    say("");
    show("starting");
    watchButton.disabled = true;
    stopButton.disabled = false;
    state.keeper.start().catch(function (err) {
      state.errors.push({ kind: "watch", detail: String(err), at: Date.now() });
      state.keeper.stop();
      release();
      show("failed");
      say((err && err.message) || messages.network);
    });
  });
  stopButton.addEventListener("click", function () { stop(); });
  window.CourtcastWhip.endOnLeave(state);
  if (new URLSearchParams(location.search).get("measure") === "1") {
    measureBox.checked = true;
  }
  state.stop = stop;
})();
