"""Lambda's input and output, written once for every function: batch consumers and their partial batch
responses (`batch_consumer`), and the HTTP API's requests, answers and one error shape (`http`)."""
