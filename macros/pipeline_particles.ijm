// Analyze Particles on the current image after an auto-threshold; a stack is measured
// on its maximum-intensity projection (as a lab counts objects on a projection).
// Used by pipelines/mito_classification.yml (optional step `ij_measure`).
#@ String (label="Threshold method", choices={"Default","Huang","Li","Otsu","Triangle","Moments"}) method
#@ Integer (label="Minimum size in pixels", value=4) min_size

if (nSlices > 1) {
    run("Z Project...", "projection=[Max Intensity]");
}
setAutoThreshold(method + " dark");
run("Set Measurements...", "area mean centroid shape redirect=None decimal=4");
run("Analyze Particles...", "size=" + min_size + "-Infinity display clear");
