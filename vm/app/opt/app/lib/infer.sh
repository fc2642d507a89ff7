# Inference library of the demo application: reads the whole model and answers with its size and
# checksum, so a client can tell the answer came from exactly these bytes.
infer() {
  size=$(wc -c <"$1")
  sum=$(md5sum "$1")
  echo "earlystart-app $(cat "$APP_HOME/VERSION") model=$MODEL bytes=$size md5=${sum%% *}"
}
