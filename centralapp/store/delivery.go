package store

import "fmt"

// CheckDelivery returns an ErrInvalid error for a delivery that breaks the
// constraints of [Store.PutDelivery], so every backend refuses the same
// records with the same words.
func CheckDelivery(d Delivery) error {
	var why string
	switch {
	case d.ReportID == "":
		why = "no report id"
	case d.Recipient == "":
		why = "no recipient"
	case d.Attempt < 1:
		why = fmt.Sprintf("attempt %d: the first is 1", d.Attempt)
	case d.Time.IsZero():
		why = "no time"
	case d.Outcome != DeliverySent && d.Outcome != DeliveryFailed:
		why = fmt.Sprintf("outcome %q: want %q or %q", d.Outcome, DeliverySent, DeliveryFailed)
	case d.Outcome == DeliverySent && d.Error != "":
		why = "a sent delivery carries an error"
	case d.Outcome == DeliveryFailed && d.Error == "":
		why = "a failed delivery carries no error"
	default:
		return nil
	}
	return fmt.Errorf("%w: delivery of report %q to %q: %s", ErrInvalid, d.ReportID, d.Recipient, why)
}
