// A lab's preprocessing macro: rolling-ball background subtraction, in place.
// Used by pipelines/nuclei_count.yml (step `background`); the pipeline passes the
// image as the current image titled "image" and reads it back by that title.
#@ Float (label="Rolling ball radius in pixels", value=50) rolling
#@ Boolean (label="Light background", value=false) light

options = "rolling=" + rolling;
if (light) options = options + " light";
run("Subtract Background...", options);
