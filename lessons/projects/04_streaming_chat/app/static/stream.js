// The test page's script: POST the message to /v1/chat/stream and show the reply as its
// Server-Sent Events arrive.
//
// EventSource, the browser's built-in SSE client, can only send GET requests without a
// body, so this page reads the stream itself: fetch() gives the response as soon as its
// headers arrive, and response.body.getReader() hands over the bytes as they come in.

"use strict";

const form = document.getElementById("chat-form");
const messageInput = document.getElementById("message");
const modelSelect = document.getElementById("model");
const sendButton = document.getElementById("send");
const output = document.getElementById("output");
const statusLine = document.getElementById("status");

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

// Fill the model menu from GET /v1/models.
async function loadModels() {
  try {
    const response = await fetch("/v1/models");
    const body = await response.json();
    for (const model of body.data) {
      const option = document.createElement("option");
      option.value = model.id;
      option.textContent = `${model.id} (${model.provider})`;
      modelSelect.append(option);
    }
  } catch (err) {
    setStatus(`Could not load the models: ${err}`, true);
  }
}

// Parse one SSE event ("event: ...\ndata: ...") into {event, data}; null for a comment.
function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue; // a comment: keep-alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  return { event, data: JSON.parse(data.join("\n")) };
}

// POST `body` ({message, model}) to /v1/chat/stream and call, as the events arrive:
//   handlers.onToken(text)   for each token event
//   handlers.onDone(data)    for the done event (usage, model, provider, ...)
//   handlers.onError(error)  for an error event, or an error status before the stream
async function streamChat(body, handlers) {
  /*
  TODO: POST `body` as JSON to /v1/chat/stream with fetch(). Read response.body with
  getReader() and a TextDecoder; collect the text until a blank line ends an event,
  parse the event with parseEvent(), and call the handler for its data.type
  (README.md, "The test page"). Then delete the `throw` below.
  */
  throw new Error("streamChat() is not written yet: see README.md, \"The test page\"");
}

form.addEventListener("submit", async (submitEvent) => {
  submitEvent.preventDefault();
  output.textContent = "";
  setStatus("Streaming...");
  sendButton.disabled = true;
  const started = performance.now();
  try {
    await streamChat(
      { message: messageInput.value, model: modelSelect.value || undefined },
      {
        onToken(text) {
          output.textContent += text;
        },
        onDone(data) {
          const seconds = ((performance.now() - started) / 1000).toFixed(1);
          const via = data.fallback ? `, fallback for ${data.requested_model}` : "";
          setStatus(
            `Done in ${seconds} s: ${data.model} (${data.provider}${via}), ` +
              `${data.usage.input_tokens} tokens in, ${data.usage.output_tokens} out.`,
          );
        },
        onError(error) {
          setStatus(`Error: ${error.type}: ${error.message}`, true);
        },
      },
    );
  } catch (err) {
    setStatus(`Error: ${err.message}`, true);
  } finally {
    sendButton.disabled = false;
  }
});

loadModels();
