// Count and measure fluorescent nuclei in the active image.
//
// The steps a lab runs by hand: rolling-ball background subtraction, a light Gaussian
// blur, an automatic threshold, watershed to split touching nuclei, then Analyze
// Particles with each nucleus added to the ROI Manager and measured on the
// background-corrected image. Works unchanged in Fiji (script parameters) and through
// `fijibridge macro` / the imagej engine.
#@ Float (label="Rolling-ball radius (pixels)", value=50) rolling
#@ Float (label="Gaussian sigma (pixels)", value=1.0) sigma
#@ String (label="Threshold method", choices={"Default","Huang","Li","Otsu","Triangle","Yen"}, value="Otsu") method
#@ Float (label="Minimum nucleus area (pixels)", value=30) min_area
#@ Boolean (label="Split touching nuclei (watershed)", value=true) watershed

setOption("BlackBackground", true);
original = getTitle();
run("Subtract Background...", "rolling=" + rolling);
run("Duplicate...", "title=nuclei_mask");
if (sigma > 0)
	run("Gaussian Blur...", "sigma=" + sigma);
setAutoThreshold(method + " dark");
run("Convert to Mask");
if (watershed)
	run("Watershed");
run("Set Measurements...", "area mean min centroid perimeter shape feret's integrated redirect=[" + original + "] decimal=6");
run("Analyze Particles...", "size=" + min_area + "-Infinity pixel exclude clear display add");
count = nResults;
total = 0;
for (i = 0; i < count; i++)
	total += getResult("Area", i);
// Set Measurements is global in ImageJ: leave no redirect to this image behind
run("Set Measurements...", "area mean min centroid perimeter shape feret's integrated redirect=None decimal=6");
print("nuclei: " + count);
if (count > 0)
	print("mean area: " + d2s(total / count, 3));
