// Alien Filters tab: give a click a WebUI task id and show the WebUI's progress bar for it.
// randomId() and requestProgress() come from the WebUI's own javascript (progressbar.js, ui.js).
function alienFiltersWithProgress(args, statusId, outputId) {
    if (typeof randomId === "function" && typeof requestProgress === "function") {
        const id = randomId();
        const app = gradioApp();
        requestProgress(id, app.getElementById(statusId), app.getElementById(outputId), function() {});
        args[0] = id;
    }
    return args;
}

function alienFiltersPreview(...args) {
    return alienFiltersWithProgress(args, "alien_filters_status", "alien_filters_sheet");
}

function alienFiltersRun(...args) {
    return alienFiltersWithProgress(args, "alien_filters_status", "alien_filters_gallery");
}

function alienFiltersReport(...args) {
    return alienFiltersWithProgress(args, "alien_filters_report_summary", "alien_filters_report_preview");
}
