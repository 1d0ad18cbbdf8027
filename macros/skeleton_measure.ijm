// Skeleton measurement of a filamentous structure (e.g. mitochondria) in 2D.
//
// Threshold, ImageJ's Skeletonize, then one row per connected skeleton piece: its
// length (skeleton pixels x pixel size), its end points and junction pixels (pixels with
// 1 and >= 3 skeleton neighbours, counted with a 3x3 neighbourhood sum; a junction can
// span several pixels, so junction pixels >= junctions), written to the Results table.
// The skeleton stays open as "skeleton".
#@ String (label="Threshold method", choices={"Default","Huang","Li","Otsu","Triangle","Yen"}, value="Li") method
#@ Float (label="Gaussian sigma (pixels)", value=1.0) sigma
#@ Float (label="Minimum piece length (pixels)", value=3) min_length

setOption("BlackBackground", true);
run("Duplicate...", "title=skeleton");
if (sigma > 0)
	run("Gaussian Blur...", "sigma=" + sigma);
setAutoThreshold(method + " dark");
run("Convert to Mask");
run("Skeletonize");
getPixelSize(unit, pw, ph);
w = getWidth();
h = getHeight();
// neighbour counts: sum of the 3x3 neighbourhood of each skeleton pixel, minus itself
run("Duplicate...", "title=neighbours");
run("32-bit");
run("Divide...", "value=255");
run("Convolve...", "text1=[1 1 1\n1 0 1\n1 1 1] normalize=false");
selectImage("skeleton");
run("Set Measurements...", "area redirect=None decimal=6");
run("Analyze Particles...", "size=" + min_length + "-Infinity pixel clear add");
n = roiManager("count");
run("Clear Results");
total = 0;
for (i = 0; i < n; i++) {
	roiManager("select", i);
	Roi.getContainedPoints(xs, ys);
	pixels = 0; ends = 0; branches = 0;
	selectImage("skeleton");
	for (k = 0; k < xs.length; k++) {
		if (getPixel(xs[k], ys[k]) == 255) {
			pixels++;
			selectImage("neighbours");
			nb = getPixel(xs[k], ys[k]);
			selectImage("skeleton");
			if (nb == 1) ends++;
			if (nb >= 3) branches++;
		}
	}
	setResult("Piece", i, i + 1);
	setResult("Length", i, pixels * pw);
	setResult("Endpoints", i, ends);
	setResult("Junction pixels", i, branches);
	total += pixels * pw;
}
updateResults();
selectImage("neighbours");
close();
print("pieces: " + n);
print("total length (" + unit + "): " + d2s(total, 3));
