/* CourtCast hearing player: hls.js where MSE exists, native HLS (Safari) otherwise.
 *
 * The page carries everything as data attributes (no inline script, strict CSP). State is
 * exposed on window.courtcastPlayer = {hls, video, errors} for automated checks.
 */
(function () {
  "use strict";

  var root = document.getElementById("player");
  if (!root) {
    return;
  }
  var video = document.getElementById("video");
  var notice = document.getElementById("player-notice");
  var badge = document.getElementById("status-badge");
  var message = document.getElementById("player-message");
  var speed = document.getElementById("speed");
  var copyButton = document.getElementById("copy-moment");
  var momentInput = document.getElementById("moment-url");
  var messages = JSON.parse(document.getElementById("player-messages").textContent);

  var PLAYABLE = ["live", "interrupted", "ended"];
  var PLAYLIST_TRIES = 30; // the first segment can lag the "live" status by a few seconds
  var pollMs = Number(root.dataset.pollSeconds || "5") * 1000;
  var state = {
    hls: null,
    video: video,
    errors: [],
    status: root.dataset.status,
    started: false,
  };
  window.courtcastPlayer = state;

  function say(text) {
    message.textContent = text || "";
  }

  function record(kind, detail) {
    state.errors.push({ kind: kind, detail: detail, at: Date.now() });
  }

  // Where playback starts: a shared ?t=SECONDS, else the live edge (-1) or, for replays, 0.
  function startPosition() {
    var t = root.dataset.start;
    if (t !== "" && isFinite(Number(t)) && Number(t) >= 0) {
      return Number(t);
    }
    return state.status === "ended" ? 0 : -1;
  }

  function play() {
    var attempt = video.play();
    if (!attempt || !attempt.catch) {
      return;
    }
    attempt.catch(function (err) {
      if (err && err.name === "NotAllowedError") {
        // Autoplay with sound is blocked until the viewer interacts: start muted instead.
        video.muted = true;
        say(messages.muted);
        video.play().catch(function () {});
      }
    });
  }

  function onHlsError(_event, data) {
    if (!data.fatal) {
      return;
    }
    record("hls", data.type + ": " + data.details);
    if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
      setTimeout(function () { state.hls.startLoad(); }, 2000);
    } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
      state.hls.recoverMediaError();
    } else {
      say(messages.failed);
    }
  }

  function attachHls(url, position) {
    var hls = new window.Hls({ startPosition: position });
    state.hls = hls;
    hls.on(window.Hls.Events.ERROR, onHlsError);
    hls.on(window.Hls.Events.MANIFEST_PARSED, play);
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  function attachNative(url, position) {
    video.addEventListener("loadedmetadata", function () {
      if (position >= 0) {
        video.currentTime = position;
      }
      play();
    }, { once: true });
    video.src = url;
  }

  function attach() {
    var url = root.dataset.playbackUrl;
    var position = startPosition();
    if (window.Hls && window.Hls.isSupported()) {
      attachHls(url, position);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      attachNative(url, position);
    } else {
      record("unsupported", "neither MSE nor native HLS");
      say(messages.unsupported);
    }
  }

  // A hearing turns live when media arrives; its playlist appears a segment later.
  function whenPlaylistExists(tries, then) {
    fetch(root.dataset.playbackUrl, { cache: "no-store" }).then(function (response) {
      if (response.ok) {
        then();
      } else if (tries > 1) {
        say(messages.waiting);
        setTimeout(function () { whenPlaylistExists(tries - 1, then); }, 2000);
      } else {
        record("playlist", "HTTP " + response.status);
        say(messages.failed);
      }
    }).catch(function () {
      // A CDN without CORS for fetch() may still serve the player: let hls.js try.
      then();
    });
  }

  function start() {
    if (state.started) {
      return;
    }
    state.started = true;
    notice.hidden = true;
    video.hidden = false;
    whenPlaylistExists(PLAYLIST_TRIES, function () {
      say(state.status === "interrupted" ? messages.interruptedNotice : "");
      attach();
    });
  }

  function showStatus(status) {
    state.status = status;
    badge.className = "badge badge-" + status;
    badge.textContent = messages[status] || status;
    if (status === "interrupted") {
      say(messages.interruptedNotice);
    }
  }

  // Polling (jittered, so a crowd does not arrive in lockstep) until the broadcast starts.
  function poll() {
    fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (hearing) {
        if (hearing && hearing.status !== state.status) {
          showStatus(hearing.status);
        }
        if (PLAYABLE.indexOf(state.status) >= 0) {
          start();
        } else {
          schedulePoll();
        }
      })
      .catch(schedulePoll);
  }

  function schedulePoll() {
    setTimeout(poll, pollMs * (1 + Math.random() * 0.5));
  }

  function momentUrl() {
    var url = new URL(window.location.href);
    url.searchParams.set("t", String(Math.floor(video.currentTime || 0)));
    return url.href;
  }

  function copyMoment() {
    var link = momentUrl();
    momentInput.value = link;
    momentInput.hidden = false;
    var manual = function () {
      momentInput.focus();
      momentInput.select();
      say(messages.copyManually);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(link).then(function () { say(messages.copied); }, manual);
    } else {
      manual();
    }
  }

  speed.addEventListener("change", function () {
    video.playbackRate = Number(speed.value);
  });
  video.addEventListener("ratechange", function () {
    speed.value = String(video.playbackRate);
  });
  video.addEventListener("error", function () {
    var error = video.error;
    record("video", error ? error.code + " " + (error.message || "") : "unknown");
  });
  copyButton.addEventListener("click", copyMoment);

  if (PLAYABLE.indexOf(state.status) >= 0) {
    start();
  } else if (state.status === "scheduled") {
    schedulePoll();
  }
})();
