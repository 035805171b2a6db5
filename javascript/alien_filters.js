// Alien Filters tab: give the Run click a WebUI task id and show the WebUI's progress bar for it.
// randomId() and requestProgress() come from the WebUI's own javascript (progressbar.js, ui.js).
function alienFiltersRun(...args) {
    if (typeof randomId === "function" && typeof requestProgress === "function") {
        const id = randomId();
        const app = gradioApp();
        requestProgress(id, app.getElementById("alien_filters_status"), app.getElementById("alien_filters_gallery"),
            function() {});
        args[0] = id;
    }
    return args;
}
