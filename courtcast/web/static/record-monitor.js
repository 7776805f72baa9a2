/* CourtCast clerk page: plays the court's complete record (a signed record_url) live.
 *
 * No inline script (strict CSP): the URL comes from #monitor[data-record-url], texts from the
 * #monitor-messages JSON block. Until the courtroom sends media the record's playlist answers
 * 404: the waiting message shows and it tries again. After a fatal error it starts over.
 * State for automated checks: window.courtcastRecordMonitor = {hls, video, errors}.
 */
(function () {
  "use strict";

  var root = document.getElementById("monitor");
  if (!root || !root.dataset.recordUrl) {
    return;
  }
  var video = document.getElementById("monitor-video");
  var message = document.getElementById("monitor-message");
  var messages = JSON.parse(document.getElementById("monitor-messages").textContent);
  var url = root.dataset.recordUrl;
  var RETRY_MS = 5000;
  var state = { hls: null, video: video, errors: [] };
  window.courtcastRecordMonitor = state;

  function say(text) {
    message.textContent = text || "";
  }

  // Muted, so browsers let it start by itself: the clerk watches, and unmutes to listen.
  function play() {
    say("");
    var attempt = video.play();
    if (attempt && attempt.catch) {
      attempt.catch(function (err) { state.errors.push("play: " + err); });
    }
  }

  function retryLater() {
    say(messages.waiting);
    setTimeout(attach, RETRY_MS);
  }

  function attachHls() {
    if (state.hls) {
      state.hls.destroy();
    }
    var hls = new window.Hls({ liveSyncDurationCount: 2 });
    state.hls = hls;
    hls.on(window.Hls.Events.MANIFEST_PARSED, play);
    hls.on(window.Hls.Events.ERROR, function (_event, data) {
      if (!data.fatal) {
        return;
      }
      state.errors.push(data.type + ": " + data.details);
      hls.destroy();
      state.hls = null;
      retryLater();
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  function attach() {
    if (window.Hls && window.Hls.isSupported()) {
      attachHls();
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.addEventListener("loadedmetadata", play, { once: true });
      video.addEventListener("error", retryLater, { once: true });
      video.src = url;
    }
  }

  attach();
})();
